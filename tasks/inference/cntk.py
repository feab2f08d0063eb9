"""Inference (ResNet-50 feature extraction) in CNTK (2.4 in the 2017 image, 2.7 in cntk-2.7).

2017's CNTK_Inference notebook (ilkarman/
DeepLearningFrameworks, notebooks/CNTK_Inference.ipynb) loaded CNTK's pre-trained
ResNet50_ImageNet_CNTK.model (from cntk.ai) and evaluated its node 'z.x', the output of the
average pool (2048 features), on NCHW random images in batches of 32. The network is written out
here with cntk.layers instead, so the image needs no download, in the layout of CNTK's own
ResNet-50 recipe (Examples/Image/Classification/ResNet/BrainScript/ResNet50_ImageNet1K.cntk):
bias-free convolutions with He-normal weights, each followed by batch normalisation, stride 2 on
the FIRST 1x1 convolution of stages 3-5 (stride1x1 = 2, stride3x3 = 1) and on their projection
shortcuts, a padded 3x3 max pool, a 7x7 average pool; cut there. ResNet-50 layout: He et al.
2015, table 1.
"""
from __future__ import absolute_import, division, print_function
import numpy as np
import cntk as C
from cntk.layers import AveragePooling, BatchNormalization, Convolution2D, MaxPooling

from common import canonical
from frameworks import cntk as fw  # noqa: F401  (the device is CNTK's default, set by init)

EQUIVALENCE = {"family": "resnet50-cntk"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW",
            "network": "CNTK ResNet50_ImageNet1K recipe structure (stride on the 1x1), cut "
                       "after the average pool"}

# Every weight the network holds, batch-norm running statistics included (Keras's "Total
# params"): 23,454,912 convolution weights (no biases) and 53 batch norms' scale, bias, running
# mean and running variance (4 x 26,560); not the batch norms' scalar sample counters.
PARAMETERS = 23561152


def _conv_bn(x, filters, kernel, names, stride=1, relu=True):
    # names: the convolution's and the batch norm's, as the canonical weights name them
    # (export_params finds the layers by name)
    x = Convolution2D((kernel, kernel), filters, strides=(stride, stride), pad=True,
                      bias=False, init=C.he_normal(), activation=None, name=names[0])(x)
    x = BatchNormalization(map_rank=1, normalization_time_constant=4096, name=names[1])(x)
    return C.relu(x) if relu else x


def _bottleneck(x, width, stride, project, name):
    # stride on the 1x1 (CNTK's recipe)
    out = _conv_bn(x, width, 1, (name + ".conv1", name + ".bn1"), stride=stride)
    out = _conv_bn(out, width, 3, (name + ".conv2", name + ".bn2"))
    out = _conv_bn(out, width * 4, 1, (name + ".conv3", name + ".bn3"),
                   relu=False)  # expansion 4
    shortcut = x
    if project:
        shortcut = _conv_bn(x, width * 4, 1, (name + ".downsample.0", name + ".downsample.1"),
                            stride=stride, relu=False)
    return C.relu(out + shortcut)


def build_model(p):
    features = C.input_variable((p["channels"], p["height"], p["width"]), np.float32)
    x = _conv_bn(features, 64, 7, ("conv1", "bn1"), stride=2)
    x = MaxPooling((3, 3), strides=(2, 2), pad=True)(x)
    for stage, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                     (512, 3, 2))):
        for i in range(blocks):
            x = _bottleneck(x, width, stride if i == 0 else 1, i == 0,
                            "layer%d.%d" % (stage + 1, i))
    pool = p["height"] // 32  # 7x7 -> 1x1: 2048 features
    return AveragePooling((pool, pool), strides=(1, 1))(x)


def _weights(model):
    # parameters, then the batch norms' running mean and variance (constants with a shape;
    # the scalar sample counters are left out)
    return list(model.parameters) + [c for c in model.constants if len(c.shape) > 0]


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in _weights(model))


def load_weights(model, path):
    # a model file saved from this network (Function.save): the same weights in the same order
    theirs = _weights(C.load_model(path))
    mine = _weights(model)
    if [tuple(w.shape) for w in theirs] != [tuple(w.shape) for w in mine]:
        raise ValueError("%s holds other weights than this ResNet-50 (%d arrays, %d expected)"
                         % (path, len(theirs), len(mine)))
    for w, value in zip(mine, theirs):
        _assign(w, value.value)


def _assign(w, value):
    """Set a parameter's or a constant's value. CNTK 2.4's Constant has no .value setter (only
    Parameter has): a constant's storage, an NDArrayView, copies the new values in."""
    value = np.ascontiguousarray(np.asarray(value, dtype=np.float32).reshape(w.shape))
    if w.is_parameter:
        w.value = value
    else:
        view = C.cntk_py.Constant.value(w)
        view.copy_from(C.NDArrayView.from_dense(value, device=view.device()))


def predict(model, x):
    out = model.eval({model.arguments[0]: np.ascontiguousarray(x)})  # features on the host
    return np.asarray(out).reshape(len(x), -1)


def sync(model):
    pass  # eval() returns host arrays: the device is done


# Model equivalence (dlbench check-models): the weights in the canonical form, family
# resnet50-cntk: every convolution and batch norm is named as the canonical weights
# (torchvision's names, build_model) and found with Function.find_by_name. A convolution's W is
# OIHW (a cross-correlation); a batch norm holds scale and bias (parameters) and aggregate_mean
# and aggregate_variance (constants; aggregate_count, a sample counter, is not a weight), eps
# CNTK's default 1e-5.
_BN = (("weight", "scale"), ("bias", "bias"), ("running_mean", "aggregate_mean"),
       ("running_var", "aggregate_variance"))


def _named(model):
    """(canonical name, CNTK parameter or constant) for every weight of the network."""
    units = [("conv1", "bn1")]
    for stage, blocks in enumerate((3, 4, 6, 3)):
        for i in range(blocks):
            pre = "layer%d.%d." % (stage + 1, i)
            units += [(pre + "conv%d" % k, pre + "bn%d" % k) for k in (1, 2, 3)]
            if i == 0:
                units.append((pre + "downsample.0", pre + "downsample.1"))
    pairs = []
    for conv, bn in units:
        for name in (conv, bn):
            if model.find_by_name(name) is None:
                raise ValueError("the CNTK ResNet-50 has no layer named %s" % name)
        conv_block, bn_block = model.find_by_name(conv), model.find_by_name(bn)
        pairs.append((conv + ".weight",
                      dict((w.name, w) for w in conv_block.parameters)["W"]))
        weights = dict((w.name, w) for w in list(bn_block.parameters) +
                       list(bn_block.constants))
        pairs += [(bn + "." + c, weights[n]) for c, n in _BN]
    return pairs


def export_params(model):
    out = {}
    for name, w in _named(model):
        value = np.asarray(w.value, dtype=np.float32)
        out[name] = value if name.endswith(".weight") and value.ndim == 4 else value.reshape(-1)
    return out


def import_params(model, params):
    pairs = _named(model)
    canonical.check_keys(params, [name for name, _ in pairs])
    for name, w in pairs:
        value = np.asarray(params[name], dtype=np.float32)
        if value.size != int(np.prod(w.shape)):
            raise ValueError("%s: %d values, CNTK's is %s" % (name, value.size, tuple(w.shape)))
        _assign(w, value)


def outputs(model, x):
    """The (N, 2048) pooled features of a batch, as float32 numpy (running statistics)."""
    return np.asarray(predict(model, x), dtype=np.float32)
