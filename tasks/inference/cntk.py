"""Inference (ResNet-50 feature extraction) in CNTK 2.4.

Not run yet (see frameworks/cntk.py). 2017's CNTK_Inference notebook (ilkarman/
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
import numpy as np
import cntk as C
from cntk.layers import AveragePooling, BatchNormalization, Convolution2D, MaxPooling

from frameworks import cntk as fw  # noqa: F401  (the device is CNTK's default, set by init)

SETTINGS = {"layout": "NCHW",
            "network": "CNTK ResNet50_ImageNet1K recipe structure (stride on the 1x1), cut "
                       "after the average pool"}

# Every weight the network holds, batch-norm running statistics included (Keras's "Total
# params"): 23,454,912 convolution weights (no biases) and 53 batch norms' scale, bias, running
# mean and running variance (4 x 26,560); not the batch norms' scalar sample counters.
PARAMETERS = 23561152
# The ResNet-50 family common/flops.py counts (where the stride sits changes the FLOPs):
# CNTK's recipe: stride on each stage's first 1x1.
STRUCTURE = "stride-on-1x1"


def _conv_bn(x, filters, kernel, stride=1, relu=True):
    x = Convolution2D((kernel, kernel), filters, strides=(stride, stride), pad=True,
                      bias=False, init=C.he_normal(), activation=None)(x)
    x = BatchNormalization(map_rank=1, normalization_time_constant=4096)(x)
    return C.relu(x) if relu else x


def _bottleneck(x, width, stride, project):
    out = _conv_bn(x, width, 1, stride=stride)  # stride on the 1x1 (CNTK's recipe)
    out = _conv_bn(out, width, 3)
    out = _conv_bn(out, width * 4, 1, relu=False)  # expansion 4
    shortcut = _conv_bn(x, width * 4, 1, stride=stride, relu=False) if project else x
    return C.relu(out + shortcut)


def build_model(p):
    features = C.input_variable((p["channels"], p["height"], p["width"]), np.float32)
    x = _conv_bn(features, 64, 7, stride=2)
    x = MaxPooling((3, 3), strides=(2, 2), pad=True)(x)
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            x = _bottleneck(x, width, stride if i == 0 else 1, project=i == 0)
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
        w.value = value.value


def predict(model, x):
    out = model.eval({model.arguments[0]: np.ascontiguousarray(x)})  # features on the host
    return np.asarray(out).reshape(len(x), -1)


def sync(model):
    pass  # eval() returns host arrays: the device is done
