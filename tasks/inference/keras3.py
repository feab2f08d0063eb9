"""Inference (ResNet-50 feature extraction) in Keras 3, on the backend the variant names.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the variant names the backend
(frameworks/keras3.py sets it before keras is imported). The forward pass is the compiled
predict_on_batch (tf.function / jax.jit; eager on torch).

The network is Keras's own model zoo, as 2017 used it: ilkarman/DeepLearningFrameworks,
notebooks/Keras_TF_Inference.ipynb (Keras 2.1.4, TensorFlow 1.4) builds
`ResNet50(include_top=False, input_shape=(224,224,3))` from keras.applications.resnet50 and
times `predict_on_batch` on channels-last random images, batch 32. That Keras (2.1.x
keras/applications/resnet50.py) put the stride of each stage's first block on its first 1x1
convolution, gave every convolution a bias, and applied AveragePooling2D((7, 7)) even without the
top: on 224x224 images the same global average pooling as pooling="avg" here, 2048 features.
Keras 3's ResNet50 has the same layers and weights; it pads before the first max-pooling (a
later Keras added that), so the first stage runs on 56x56 maps where Keras 2.1's ran on 55x55.

Weights are random (weights=None): 2017 loaded ImageNet weights, but times random images, and a
benchmark never downloads; `--weights FILE` loads a local file (Keras's notop .h5 included).
"""
import keras
import numpy as np

from common import canonical

EQUIVALENCE = {"family": "resnet50-keras"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC",
            "network": "keras.applications.ResNet50(include_top=False, pooling='avg')"}

# Every weight the network holds, batch-norm moving statistics included: Keras's "Total params"
# (model.count_params(), what model.summary() prints). 25,636,712 with the top (the Keras 2
# applications table) less fc1000's 2048 x 1000 + 1000; counted here: 53 convolutions with
# biases (23,481,472) and 53 batch-norms of 4 x 26,560 (106,240). Trainable: 23,534,592.
PARAMETERS = 23587712


def build_model(p):
    # inference: predict_on_batch runs batch-norm on its moving statistics
    return keras.applications.ResNet50(
        include_top=False, weights=None, pooling="avg",
        input_shape=(p["height"], p["width"], p["channels"]))


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.weights)  # trainable and moving statistics


def load_weights(model, path):
    # a .weights.h5 of this model (model.save_weights), or Keras's legacy
    # resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 (layers matched by name)
    model.load_weights(path)


def predict(model, x):
    # features back on the host, as in 2017 (float32 also under the mixed_bfloat16 policy)
    return np.asarray(model.predict_on_batch(x), dtype=np.float32)


def sync(model):
    pass  # predict_on_batch returns host values: nothing is left queued


# model equivalence (`dlbench check-models`, common/canonical.py): keras.applications' layer
# names to torchvision-style ones: conv{s}_block{b}_{k}_conv / _bn -> layer{s-1}.{b-1}.conv{k} /
# .bn{k} (k = 0: the shortcut, downsample.0 / .1), conv1_conv / conv1_bn -> conv1 / bn1; every
# convolution has a bias; kernels HWIO here, OIHW there

_BN = ("weight", "bias", "running_mean", "running_var")  # Keras: gamma, beta, moving mean, var


def _canonical_layer(name):
    """The canonical name of a Keras ResNet50 layer with weights, or None."""
    if name in ("conv1_conv", "conv1_bn"):
        return {"conv1_conv": "conv1", "conv1_bn": "bn1"}[name]
    parts = name.split("_")  # conv2_block1_1_conv
    if len(parts) != 4 or not parts[1].startswith("block"):
        return None
    unit = "layer%d.%d" % (int(parts[0][4:]) - 1, int(parts[1][5:]) - 1)
    k, kind = parts[2], parts[3]
    if k == "0":
        return unit + (".downsample.0" if kind == "conv" else ".downsample.1")
    return "%s.%s%s" % (unit, kind, k)


def _layers(model):
    return [(_canonical_layer(l.name), l) for l in model.layers
            if l.get_weights() and _canonical_layer(l.name)]


def export_params(model):
    out = {}
    for name, layer in _layers(model):
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.Conv2D):
            out[name + ".weight"] = canonical.hwio_to_oihw(weights[0])
            out[name + ".bias"] = weights[1]
        else:
            out.update(("%s.%s" % (name, key), w) for key, w in zip(_BN, weights))
    return out


def import_params(model, params):
    canonical.check_keys(params, list(export_params(model)))
    for name, layer in _layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([canonical.oihw_to_hwio(params[name + ".weight"]),
                               params[name + ".bias"]])
        else:
            layer.set_weights([params["%s.%s" % (name, key)] for key in _BN])


def outputs(model, x):
    """The eval-mode pooled features (N, 2048) as float32 numpy."""
    return predict(model, x)
