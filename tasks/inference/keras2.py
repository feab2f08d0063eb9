"""Inference (ResNet-50 feature extraction) in Keras 2 (multi-backend), on the backend the
variant names.

The network is Keras's own model zoo, as 2017 used it: ilkarman/DeepLearningFrameworks,
notebooks/Keras_TF_Inference.ipynb and Keras_CNTK_Inference.ipynb (Keras 2.1.4) build
`ResNet50(include_top=False, input_shape=(224,224,3))` from keras.applications.resnet50 and time
`predict_on_batch` on channels-last random images, batch 32 (2017 had no Keras(Theano)
inference notebook; the same here). Keras 2.1.4 put the stride of each stage's first block on
its first 1x1 convolution, gave every convolution a bias and ended with AveragePooling2D((7, 7));
pooling="avg" adds the global average that makes (N, 2048) features in 2.1.4 and 2.3.1 alike.
Keras 2.3.1's ResNet50 (keras_applications 1.0.8) has the same layers and weights and pads
before the first max-pooling (56x56 maps in the first stage where 2.1.4 had 55x55).

Weights are random (weights=None): 2017 loaded ImageNet weights, but times random images, and a
benchmark never downloads; `--weights FILE` loads a local file (Keras's notop .h5 included).
"""
from __future__ import absolute_import, division, print_function
import keras
import numpy as np

from common import canonical
from frameworks import keras2 as fw

# common/canonical.py FAMILIES: Keras 2.3.1's network (keras-2.3: the theano variants); Keras
# 2.1.4's on CNTK (cntk-2.7 pins 2017's Keras for the cntk variant) leaves its stem's max-pool
# unpadded. The 2017 keras image (2.1.4 on every backend, not built here) is unchecked: its
# networks are neither family exactly (canonical.py says why).
EQUIVALENCE = {"family": "resnet50-keras2", "variants": {"cntk": "resnet50-keras2.1",
                                                        "cntk-tuned": "resnet50-keras2.1"}}
SETTINGS = {"layout": "NHWC",
            "network": "keras.applications.resnet50.ResNet50(include_top=False, pooling='avg')"}

# Every weight the network holds, batch-norm moving statistics included: Keras's "Total params"
# (model.count_params()), the keras3 adapter's count: 53 convolutions with biases (23,481,472)
# and 53 batch-norms of 4 x 26,560 (106,240).
PARAMETERS = 23587712


def build_model(p):
    keras.backend.set_image_data_format("channels_last")  # as Keras_TF_Inference set it
    if fw.DEVICE["tuned"] and keras.backend.backend() == "theano":
        # the graph built for inference only: 2017's program (the reference variants) leaves
        # the learning phase a graph input, so every batch-norm carries a switch between its
        # batch and moving statistics (on Theano an IfElse, a Python op) and the batch sums.
        # Measured (keras-2.3, Theano with OpenMP, 2-CPU AMD EPYC): 5.9/5.3 -> 9.7/9.1 img/s.
        # Theano only: on CNTK (Keras 2.1.4) it moved 1.7 -> 2.2 img/s, not worth a second
        # program there
        keras.backend.set_learning_phase(0)
    # inference: predict_on_batch runs batch-norm on its moving statistics
    return keras.applications.resnet50.ResNet50(
        include_top=False, weights=None, pooling="avg",
        input_shape=(p["height"], p["width"], p["channels"]))


def count_parameters(model):
    return model.count_params()  # trainable and moving statistics


def load_weights(model, path):
    # an .h5 of this model (model.save_weights), or Keras's
    # resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 (layers matched by name)
    model.load_weights(path, by_name=True)


def predict(model, x):
    return np.asarray(model.predict_on_batch(x)).reshape(len(x), -1)  # features on the host


def sync(model):
    pass  # predict_on_batch returns host values: nothing is left queued


# Model equivalence (dlbench check-models): the weights in the canonical form, family
# resnet50-keras2 (keras.applications' ResNet50: the stride on the first 1x1
# convolution of a stage, a bias on every convolution, batch-norm eps 1e-3, Keras's default):
# torchvision's names (conv1, bn1, layer<S>.<U>.conv1 ... downsample.1) for Keras's (conv1,
# bn_conv1, res<S+1><a,b,..>_branch2a ... bn..._branch1), plus a .bias for every convolution.
# Kernels (rows, columns, in, out) -> OIHW; on Theano a Keras convolution is a true convolution
# (see cnn/keras2.py), so the kernels are flipped there.
_BN = ("weight", "bias", "running_mean", "running_var")  # gamma, beta, moving mean, variance


def _pairs():
    """(canonical prefix, Keras convolution layer, Keras batch-norm layer)."""
    pairs = [("conv1", "conv1", None), ("bn1", None, "bn_conv1")]
    for stage, blocks in enumerate((3, 4, 6, 3)):
        for i in range(blocks):
            pre, block = "layer%d.%d." % (stage + 1, i), "%d%s" % (stage + 2, "abcdef"[i])
            for k, branch in ((1, "2a"), (2, "2b"), (3, "2c")):
                pairs.append((pre + "conv%d" % k, "res%s_branch%s" % (block, branch), None))
                pairs.append((pre + "bn%d" % k, None, "bn%s_branch%s" % (block, branch)))
            if i == 0:
                pairs.append((pre + "downsample.0", "res%s_branch1" % block, None))
                pairs.append((pre + "downsample.1", None, "bn%s_branch1" % block))
    return pairs


def export_params(model):
    out, flip = {}, keras.backend.backend() == "theano"
    for prefix, conv, bn in _pairs():
        if conv:
            kernel, bias = model.get_layer(conv).get_weights()
            kernel = kernel.transpose(3, 2, 0, 1)
            out[prefix + ".weight"] = np.ascontiguousarray(
                kernel[:, :, ::-1, ::-1] if flip else kernel)
            out[prefix + ".bias"] = bias
        else:
            out.update(zip([prefix + "." + k for k in _BN], model.get_layer(bn).get_weights()))
    return out


def import_params(model, params):
    canonical.check_keys(params, list(export_params(model)))
    flip = keras.backend.backend() == "theano"
    for prefix, conv, bn in _pairs():
        layer = model.get_layer(conv or bn)
        names = [prefix + ".weight", prefix + ".bias"] if conv else \
            [prefix + "." + k for k in _BN]
        values = [np.asarray(params[n], dtype=np.float32) for n in names]
        if conv:
            kernel = values[0][:, :, ::-1, ::-1] if flip else values[0]
            values[0] = np.ascontiguousarray(kernel.transpose(2, 3, 1, 0))
        want = [w.shape for w in layer.get_weights()]
        if [v.shape for v in values] != want:
            raise ValueError("%s: shapes %s do not fit Keras's %s"
                             % (prefix, [v.shape for v in values], want))
        layer.set_weights(values)


def outputs(model, x):
    """The (N, 2048) pooled features of a batch (NHWC), as numpy (moving statistics)."""
    return predict(model, x)
