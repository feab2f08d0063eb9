"""RNN (GRU sentiment classifier, IMDB) in Chainer.

2017 has no Chainer RNN notebook (the benchmark ran Chainer for the CNN and inference only), so
this file follows the PyTorch RNN's network: embedding 30000x125, one GRU layer of 100 units
from a zero initial state, its output at the last of the 150 steps, dense 2. L.NStepGRU is
Chainer's GRU link (Chainer >= 2.0): cuDNN's GRU on a GPU, the same equations in NumPy on the
CPU, with cuDNN's weight layout (two bias vectors per gate, as PyTorch: 68,100 GRU weights).
Chainer's default initialisers throughout (as Chainer_CNN kept Chainer's): embedding normal(0, 1),
GRU weights normal(0, sqrt(1/fan_in)), zero biases. The API kept is the one Chainer 3.4 accepts.
Sizes in common/params.py.
"""
import numpy as np
import chainer
import chainer.functions as F
import chainer.links as L
from chainer import optimizers

from common import canonical
from frameworks import chainer as fw

EQUIVALENCE = {"family": "gru-reset-after"}  # common/canonical.py FAMILIES
# embedding 3,750,000 + GRU 68,100 (3 gates x (125x100 + 100x100) weights and two 100-wide
# bias vectors per gate, cuDNN's form) + dense 202
PARAMETERS = 3818302

SETTINGS = {"layout": "NTC (a list of N sequences for NStepGRU)",
            "gru": "L.NStepGRU (cuDNN on a GPU)"}


class GRUClassifier(chainer.Chain):
    def __init__(self, p):
        super(GRUClassifier, self).__init__()
        with self.init_scope():
            self.embedding = L.EmbedID(p["max_features"], p["embedding"])
            self.gru = L.NStepGRU(1, p["embedding"], p["hidden"], 0.0)  # 1 layer, no dropout
            self.fc = L.Linear(p["hidden"], p["n_classes"])

    def __call__(self, x):
        h = self.embedding(x)                 # (N, T, embedding)
        xs = F.separate(h, axis=0)            # NStepGRU takes a list of N (T, embedding) arrays
        hy, _ = self.gru(None, list(xs))      # None: zero initial state
        return self.fc(hy[-1])  # last output (the top layer's last state) -> logits


def build_model(p):
    model = GRUClassifier(p)
    if fw.DEVICE["gpu"]:
        model.to_gpu()
    return model


def count_parameters(model):
    return sum(w.data.size for w in model.params())


def build_trainer(model, p):
    optimizer = optimizers.Adam(alpha=p["lr"], beta1=p["beta1"], beta2=p["beta2"], eps=p["eps"])
    optimizer.setup(model)
    return {"model": model, "optimizer": optimizer}


def train_step(state, x, y):
    model = state["model"]
    xb = fw.to_device(x.astype(np.int32))  # host-to-device copy, inside the timed loop
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
        out = model(fw.to_device(x.astype(np.int32)))
    return fw.to_host(out.data.argmax(axis=1))


def sync(state):
    fw.synchronize()


# Model equivalence (dlbench check-models): the weights in the canonical form, the cuDNN GRU form
# (gates r, z, n; two biases), which is NStepGRU's: w0-w2 the input weights of r, z and the
# candidate, w3-w5 the recurrent ones, each (hidden, in), b0-b5 the biases likewise (Chainer's
# n_step_gru: r = sigmoid(W0 x + W3 h + b0 + b3), z likewise with 1 and 4,
# n = tanh(W2 x + b2 + r * (W5 h + b5)), h = (1 - z) * n + z * h).
def _gru(model):
    return model.gru[0]  # the one layer's link: w0..w5, b0..b5


def export_params(state):
    model = state["model"]
    gru = _gru(model)

    def stacked(names):
        return np.concatenate([fw.to_host(getattr(gru, n).data) for n in names])
    return {"embedding.weight": np.array(fw.to_host(model.embedding.W.data)),
            "gru.weight_ih": stacked(("w0", "w1", "w2")),
            "gru.weight_hh": stacked(("w3", "w4", "w5")),
            "gru.bias_ih": stacked(("b0", "b1", "b2")),
            "gru.bias_hh": stacked(("b3", "b4", "b5")),
            "fc.weight": np.array(fw.to_host(model.fc.W.data)),
            "fc.bias": np.array(fw.to_host(model.fc.b.data))}


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, list(export_params(state)))
    fw.set_param(model.embedding.W, params["embedding.weight"], "embedding.weight")
    gru = _gru(model)
    for key, names in (("gru.weight_ih", ("w0", "w1", "w2")),
                       ("gru.weight_hh", ("w3", "w4", "w5")),
                       ("gru.bias_ih", ("b0", "b1", "b2")),
                       ("gru.bias_hh", ("b3", "b4", "b5"))):
        value = np.asarray(params[key], dtype=np.float32)
        if value.shape[0] % 3:
            raise ValueError("%s: shape %s, not three gates" % (key, value.shape))
        for name, part in zip(names, np.split(value, 3)):
            fw.set_param(getattr(gru, name), part, key)
    fw.set_param(model.fc.W, params["fc.weight"], "fc.weight")
    fw.set_param(model.fc.b, params["fc.bias"], "fc.bias")


def outputs(state, x):
    """The logits of a batch (N, T) of word indices, as numpy."""
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        out = state["model"](fw.to_device(x.astype(np.int32)))
    return fw.to_host(out.data)
