"""CNN (VGG-style, CIFAR-10) in Chainer.

One file serves the 2017 image (Chainer 3.4.0) and Chainer 7.8.1, so it keeps to the API both
accept: a chainer.Chain with links made in init_scope(), chainer.using_config for the test-time
switches, cleargrads(). Model as in the 2017 benchmark's Chainer_CNN notebook (NCHW, 'same'
padding as pad=1, Chainer's default initialisers: LeCun-normal weights, zero biases); sizes in
common/params.py.
"""
import numpy as np
import chainer
import chainer.functions as F
import chainer.links as L
from chainer import optimizers

from common import canonical
from frameworks import chainer as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "init": "Chainer's defaults (LeCun normal, zero bias)"}


class VGGStyleCNN(chainer.Chain):
    def __init__(self, p):
        super(VGGStyleCNN, self).__init__()
        c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
        pad = k // 2  # 'same' padding
        flat = c2 * (p["height"] // 4) * (p["width"] // 4)
        with self.init_scope():
            self.conv1 = L.Convolution2D(p["channels"], c1, ksize=k, pad=pad)
            self.conv2 = L.Convolution2D(c1, c1, ksize=k, pad=pad)
            self.conv3 = L.Convolution2D(c1, c2, ksize=k, pad=pad)
            self.conv4 = L.Convolution2D(c2, c2, ksize=k, pad=pad)
            self.fc1 = L.Linear(flat, p["dense_units"])
            self.fc2 = L.Linear(p["dense_units"], p["n_classes"])
        self.drop_conv = p["dropout_conv"]
        self.drop_dense = p["dropout_dense"]
        self.pool = p["pool"]

    def __call__(self, x):
        # F.dropout is active only while chainer.config.train is True (its default)
        h = F.relu(self.conv1(x))
        h = F.relu(F.max_pooling_2d(self.conv2(h), self.pool, stride=self.pool))
        h = F.dropout(h, self.drop_conv)
        h = F.relu(self.conv3(h))
        h = F.relu(F.max_pooling_2d(self.conv4(h), self.pool, stride=self.pool))
        h = F.dropout(h, self.drop_conv)
        h = F.dropout(F.relu(self.fc1(h)), self.drop_dense)  # Linear flattens NCHW itself
        return self.fc2(h)  # logits: softmax lives in the loss


def build_model(p):
    model = VGGStyleCNN(p)
    if fw.DEVICE["gpu"]:
        model.to_gpu()
    return model


def count_parameters(model):
    return sum(w.data.size for w in model.params())


def build_trainer(model, p):
    optimizer = optimizers.MomentumSGD(lr=p["lr"], momentum=p["momentum"])
    optimizer.setup(model)
    return {"model": model, "optimizer": optimizer}


def train_step(state, x, y):
    model = state["model"]
    xb = fw.to_device(np.ascontiguousarray(x))  # host-to-device copy, inside the timed loop
    yb = fw.to_device(y.astype(np.int32))
    loss = F.softmax_cross_entropy(model(xb), yb)
    model.cleargrads()
    loss.backward()
    state["optimizer"].update()
    return loss


def to_float(loss):
    return float(fw.to_host(loss.data))


def predict(state, x):
    model = state["model"]
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        out = model(fw.to_device(np.ascontiguousarray(x)))  # dropout off
    return fw.to_host(out.data.argmax(axis=1))


def sync(state):
    fw.synchronize()


# Model equivalence (dlbench check-models): the weights in the canonical form. Chainer's layouts
# are the canonical ones (Convolution2D.W OIHW, Linear.W (out, in), Linear flattens NCHW), so
# canonical "<link>.weight" / "<link>.bias" is the link's W / b.
_LINKS = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")


def export_params(state):
    model, out = state["model"], {}
    for name in _LINKS:
        link = getattr(model, name)
        out[name + ".weight"] = np.array(fw.to_host(link.W.data))  # a copy
        out[name + ".bias"] = np.array(fw.to_host(link.b.data))
    return out


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, [n + s for n in _LINKS for s in (".weight", ".bias")])
    for name in _LINKS:
        link = getattr(model, name)
        fw.set_param(link.W, params[name + ".weight"], name + ".weight")
        fw.set_param(link.b, params[name + ".bias"], name + ".bias")


def outputs(state, x):
    """The logits of a batch, dropout off (test mode), as numpy."""
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        out = state["model"](fw.to_device(np.ascontiguousarray(x)))
    return fw.to_host(out.data)
