"""Inference (ResNet-50 feature extraction) in Theano.

2017 had no Theano inference notebook (Lasagne(Theano) ran only the CNN), and neither Theano
nor this image has a model zoo, so ResNet-50 is written out with the PyTorch adapter's
structure, as the Flax adapter does: torchvision's resnet50 (stride on the 3x3 convolution of
each stage's first block, bias-free convolutions, batch-norm on its running statistics, eps
1e-5), cut after global average pooling: 2048 features. The weights are named as torchvision's
state dict names them. ResNet-50 layout: He et al. 2015, table 1. The forward pass is one
graph compiled by theano.function on the first batch (the runner's untimed pass). NCHW.
"""
from collections import OrderedDict

import numpy as np
import theano
import theano.tensor as T
from theano.tensor.signal.pool import pool_2d

from common import canonical
from frameworks import theano as fw

EQUIVALENCE = {"family": "resnet50-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "network": "torchvision resnet50 structure, fc removed"}

# Every weight the network holds, batch-norm running statistics included (the keras3 adapter's
# count): the PyTorch adapter's 23,508,032 parameters and 53,120 running statistics.
PARAMETERS = 23561152


class ResNet50Features(object):
    def __init__(self, p):
        self.rng = np.random.RandomState(fw.DEVICE["seed"])
        self.weights = OrderedDict()  # torchvision's state-dict names -> theano.shared
        self._conv("conv1", p["channels"], 64, 7)
        self._bn("bn1", 64)
        self.stages = []
        inplanes = 64
        for s, (planes, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                      (512, 3, 2))):
            stage = []
            for i in range(blocks):
                name = "layer%d.%d." % (s + 1, i)
                width = planes * 4
                self._conv(name + "conv1", inplanes, planes, 1)
                self._bn(name + "bn1", planes)
                self._conv(name + "conv2", planes, planes, 3)
                self._bn(name + "bn2", planes)
                self._conv(name + "conv3", planes, width, 1)
                self._bn(name + "bn3", width)
                downsample = i == 0 and (stride != 1 or inplanes != width)
                if downsample:
                    self._conv(name + "downsample.0", inplanes, width, 1)
                    self._bn(name + "downsample.1", width)
                stage.append((name, stride if i == 0 else 1, downsample))
                inplanes = width
            self.stages.append(stage)

    def _conv(self, name, cin, cout, k):
        # bias-free; He-normal on the fan-out, as torchvision initialises
        std = np.sqrt(2.0 / (cout * k * k))
        self.weights[name + ".weight"] = theano.shared(
            self.rng.normal(0, std, (cout, cin, k, k)).astype(np.float32))

    def _bn(self, name, n):
        for key, value in (("weight", 1), ("bias", 0), ("running_mean", 0),
                           ("running_var", 1)):
            self.weights["%s.%s" % (name, key)] = theano.shared(
                np.full(n, value, dtype=np.float32))

    def conv(self, x, name, stride=1, pad=0):
        # cross-correlation (filter_flip=False), as torchvision's convolutions, so its weights load
        return T.nnet.conv2d(x, self.weights[name + ".weight"], border_mode=(pad, pad),
                             subsample=(stride, stride), filter_flip=False)

    def bn(self, x, name):
        # on the running statistics: (x - mean) * gamma / sqrt(var + eps) + beta, eps 1e-5
        # (written out: T.nnet.bn.batch_normalization_test refuses 1e-5 once it is a float32)
        gamma, beta, mean, var = [self.weights["%s.%s" % (name, k)].dimshuffle("x", 0, "x", "x")
                                  for k in ("weight", "bias", "running_mean", "running_var")]
        return (x - mean) * (gamma / T.sqrt(var + np.float32(1e-5))) + beta

    def block(self, x, name, stride, downsample):
        shortcut = x
        if downsample:
            shortcut = self.bn(self.conv(x, name + "downsample.0", stride), name + "downsample.1")
        out = T.nnet.relu(self.bn(self.conv(x, name + "conv1"), name + "bn1"))
        out = T.nnet.relu(self.bn(self.conv(out, name + "conv2", stride, 1), name + "bn2"))
        out = self.bn(self.conv(out, name + "conv3"), name + "bn3")
        return T.nnet.relu(out + shortcut)

    def __call__(self, x):
        x = T.nnet.relu(self.bn(self.conv(x, "conv1", 2, 3), "bn1"))
        # zero padding: the same as -inf padding here, the input is >= 0 after the ReLU
        x = pool_2d(x, ws=(3, 3), stride=(2, 2), pad=(1, 1), ignore_border=True, mode="max")
        for stage in self.stages:
            for name, stride, downsample in stage:
                x = self.block(x, name, stride, downsample)
        return x.mean(axis=(2, 3))  # global average pooling: 2048 features


def build_model(p):
    model = ResNet50Features(p)
    x = T.tensor4("x", dtype="float32")
    # compiled on the first predict (the runner's untimed pass), as jit compilers do
    return {"net": model, "x": x, "features": model(x), "predict": None}


def count_parameters(model):
    return sum(w.get_value(borrow=True).size for w in model["net"].weights.values())


def load_weights(model, path):
    # a .npz of torchvision's state dict (numpy arrays under its names; fc.* ignored)
    arrays = np.load(path)
    missing = [k for k in model["net"].weights if k not in arrays.files]
    if missing:
        raise ValueError("%s lacks %d of the network's weights, e.g. %s"
                         % (path, len(missing), missing[0]))
    for name, shared in model["net"].weights.items():
        shared.set_value(arrays[name].astype(np.float32).reshape(
            shared.get_value(borrow=True).shape))


def predict(model, x):
    if model["predict"] is None:
        model["predict"] = theano.function([model["x"]], model["features"])
    return model["predict"](np.ascontiguousarray(x, dtype=np.float32))


def sync(model):
    pass  # theano.function returns host values: nothing is left queued


# Model equivalence (dlbench check-models): the weights in the canonical form, family
# resnet50-torchvision: the network holds them under the canonical names and layouts
# already (OIHW cross-correlation kernels: filter_flip=False).

def export_params(model):
    return dict((name, shared.get_value()) for name, shared in model["net"].weights.items())


def import_params(model, params):
    canonical.check_keys(params, list(model["net"].weights))
    for name, shared in model["net"].weights.items():
        shared.set_value(canonical.checked(params[name], name,
                                           shared.get_value(borrow=True).shape))


def outputs(model, x):
    """The (N, 2048) pooled features of a batch, as numpy (running statistics)."""
    return predict(model, x)
