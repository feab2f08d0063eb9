"""CNN (VGG-style, CIFAR-10) in Theano.

2017 built this network with Lasagne on Theano (ilkarman/DeepLearningFrameworks,
notebooks/Theano_Lasagne_CNN.ipynb: the lasagne adapter, tasks/cnn/lasagne.py); here it is raw
Theano, with the defaults the notebook's Lasagne layers kept: Glorot-uniform weights (gain 1), zero
biases, ReLU in every Conv2DLayer and the first DenseLayer, softmax on the last, inverted dropout,
momentum SGD (v = momentum * v - lr * g; w += v). The graph is symbolic: the training step
(forward, gradients, updates) is compiled by theano.function into C code linked to the BLAS, on
the first step (the runner's warm-up: a minute or so of g++ in a fresh container). Sizes in
common/params.py.
"""
import numpy as np
import theano
import theano.tensor as T
from theano.sandbox.rng_mrg import MRG_RandomStreams
from theano.tensor.signal.pool import pool_2d

from common import canonical
from frameworks import theano as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW"}  # Theano's conv2d takes (batch, channels, rows, columns)


def _glorot(rng, shape, fan_in, fan_out):
    # Lasagne's GlorotUniform (init.py): uniform +-sqrt(6 / (fan_in + fan_out))
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return theano.shared(rng.uniform(-a, a, shape).astype(np.float32))


def _zeros(n):
    return theano.shared(np.zeros(n, dtype=np.float32))


class VGGStyleCNN(object):
    def __init__(self, p):
        rng = np.random.RandomState(fw.DEVICE["seed"])
        c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
        self.params = []
        for cin, cout in ((p["channels"], c1), (c1, c1), (c1, c2), (c2, c2)):
            # weights (out, in, rows, columns); fans count the receptive field, as Lasagne's
            self.params += [_glorot(rng, (cout, cin, k, k), cin * k * k, cout * k * k),
                            _zeros(cout)]
        flat = c2 * (p["height"] // 4) * (p["width"] // 4)
        for fan_in, fan_out in ((flat, p["dense_units"]), (p["dense_units"], p["n_classes"])):
            self.params += [_glorot(rng, (fan_in, fan_out), fan_in, fan_out), _zeros(fan_out)]
        self.p = p
        # dropout masks, drawn in the graph (MRG_RandomStreams refuses seed 0: offset by one)
        self.srng = MRG_RandomStreams(fw.DEVICE["seed"] + 1)

    def _conv(self, x, i):
        w, b = self.params[2 * i], self.params[2 * i + 1]
        # 'same' padding (border_mode='half'); filter_flip: a true convolution, as Lasagne's
        return T.nnet.relu(T.nnet.conv2d(x, w, border_mode="half")
                           + b.dimshuffle("x", 0, "x", "x"))

    def _dropout(self, x, rate, train):
        if not train:
            return x
        keep = 1.0 - rate
        mask = self.srng.binomial(x.shape, p=keep, dtype="float32")
        return x * mask / np.float32(keep)  # inverted dropout (Lasagne's rescale=True)

    def __call__(self, x, train):
        p, pool = self.p, (self.p["pool"], self.p["pool"])
        x = self._conv(x, 0)
        x = pool_2d(self._conv(x, 1), ws=pool, ignore_border=True, mode="max")
        x = self._dropout(x, p["dropout_conv"], train)
        x = self._conv(x, 2)
        x = pool_2d(self._conv(x, 3), ws=pool, ignore_border=True, mode="max")
        x = self._dropout(x, p["dropout_conv"], train)
        x = x.flatten(2)  # NCHW flatten order
        w, b = self.params[8], self.params[9]
        x = self._dropout(T.nnet.relu(T.dot(x, w) + b), p["dropout_dense"], train)
        w, b = self.params[10], self.params[11]
        return T.dot(x, w) + b  # logits: softmax lives in the loss


def build_model(p):
    return VGGStyleCNN(p)


def count_parameters(model):
    return sum(w.get_value(borrow=True).size for w in model.params)


def build_trainer(model, p):
    x = T.tensor4("x", dtype="float32")
    y = T.ivector("y")
    # softmax + cross-entropy: Theano fuses them into one numerically stable op
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(model(x, train=True)), y).mean()
    lr, momentum = np.float32(p["lr"]), np.float32(p["momentum"])
    updates = []
    for w, g in zip(model.params, T.grad(loss, model.params)):
        v = theano.shared(np.zeros_like(w.get_value(borrow=True)))
        v_new = momentum * v - lr * g
        updates += [(v, v_new), (w, w + v_new)]
    # theano.function compiles on the first train_step / predict (the runner's warm-up and
    # first evaluation batch), as jit compilers do
    return {"model": model, "x": x, "y": y, "loss": loss, "updates": updates,
            "train": None, "predict": None}


def train_step(state, x, y):
    if state["train"] is None:
        state["train"] = theano.function([state["x"], state["y"]], state["loss"],
                                         updates=state["updates"])
    return state["train"](np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    if state["predict"] is None:  # dropout off: the graph without the masks
        state["predict"] = theano.function(
            [state["x"]], T.argmax(state["model"](state["x"], train=False), axis=1))
    return state["predict"](np.ascontiguousarray(x, dtype=np.float32))


def sync(state):
    pass  # theano.function returns host values: nothing is left queued


# Model equivalence (dlbench check-models): the weights in the canonical form. The convolutions
# here are true convolutions (conv2d's filter_flip, as Lasagne's), the canonical kernels
# cross-correlations: a kernel is flipped in both spatial axes each way. Dense weights are
# (in, out) here, (out, in) canonically; the flatten order is NCHW in both
# (canonical.swap_true_convolution, in canonical.CNN_WEIGHTS order: self.params' order).


def export_params(state):
    return dict((c, canonical.swap_true_convolution(w.get_value()))
                for c, w in zip(canonical.CNN_WEIGHTS, state["model"].params))


def import_params(state, params):
    canonical.check_keys(params, canonical.CNN_WEIGHTS)
    for c, w in zip(canonical.CNN_WEIGHTS, state["model"].params):
        value = canonical.swap_true_convolution(params[c])  # its own inverse
        if value.shape != w.get_value(borrow=True).shape:
            raise ValueError("%s: shape %s, Theano's is %s"
                             % (c, value.T.shape if value.ndim == 2 else value.shape,
                                w.get_value(borrow=True).shape))
        w.set_value(value)


def outputs(state, x):
    """The logits of a batch, dropout off, as numpy (compiled on the first call)."""
    if state.get("logits") is None:
        state["logits"] = theano.function([state["x"]], state["model"](state["x"], train=False))
    return state["logits"](np.ascontiguousarray(x, dtype=np.float32))
