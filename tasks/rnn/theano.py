"""RNN (GRU sentiment classifier, IMDB) in Theano.

2017 had no Theano RNN notebook (Lasagne(Theano) ran only the CNN), so this follows the library
that row used: Lasagne's GRULayer (lasagne/layers/recurrent.py at the 2018-02 commit), written
out in raw Theano (frameworks/theano.py says why). The recurrence is theano.scan over time
(time-major); the input projections of all steps are computed before the scan in one product,
as Lasagne's precompute_input does; the reset gate scales the recurrent product (r * (U h)),
one bias per gate, h = (1 - u) * h + u * c: 67,800 GRU weights. Lasagne's defaults: gate
weights normal(0, 0.1), zero biases and initial state, embedding normal(0, 0.01), dense
Glorot-uniform. Adam as lasagne.updates.adam. Sizes in common/params.py.
"""
import numpy as np
import theano
import theano.tensor as T

from common import canonical
from frameworks import theano as fw

EQUIVALENCE = {"family": "gru-reset-after-input-bias"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC in, TNC (time major) through theano.scan"}


def _shared(array):
    return theano.shared(array.astype(np.float32))


class GRUClassifier(object):
    def __init__(self, p):
        rng = np.random.RandomState(fw.DEVICE["seed"])
        e, h = p["embedding"], p["hidden"]
        a = np.sqrt(6.0 / (h + p["n_classes"]))  # Glorot-uniform, Lasagne's DenseLayer default
        self.embedding = _shared(rng.normal(0, 0.01, (p["max_features"], e)))
        # gates stacked in Lasagne's order: reset, update, candidate
        self.w_in = _shared(rng.normal(0, 0.1, (e, 3 * h)))
        self.w_hid = _shared(rng.normal(0, 0.1, (h, 3 * h)))
        self.b = _shared(np.zeros(3 * h))
        self.w_out = _shared(rng.uniform(-a, a, (h, p["n_classes"])))
        self.b_out = _shared(np.zeros(p["n_classes"]))
        self.params = [self.embedding, self.w_in, self.w_hid, self.b, self.w_out, self.b_out]
        self.h = h

    def __call__(self, x):
        h = self.h
        inputs = self.embedding[x.T]                 # (time, batch, embedding)
        inputs = T.dot(inputs, self.w_in) + self.b   # every step's input projection at once

        def step(x_t, h_prev, w_hid):
            hid = T.dot(h_prev, w_hid)
            r = T.nnet.sigmoid(x_t[:, :h] + hid[:, :h])
            u = T.nnet.sigmoid(x_t[:, h:2 * h] + hid[:, h:2 * h])
            c = T.tanh(x_t[:, 2 * h:] + r * hid[:, 2 * h:])
            return (1 - u) * h_prev + u * c

        h0 = T.zeros((x.shape[0], h), dtype="float32")  # initial state: zeros
        states, _ = theano.scan(step, sequences=inputs, outputs_info=h0,
                                non_sequences=[self.w_hid], strict=True)
        return T.dot(states[-1], self.w_out) + self.b_out  # last output -> logits


def build_model(p):
    return GRUClassifier(p)


def count_parameters(model):
    return sum(w.get_value(borrow=True).size for w in model.params)


def build_trainer(model, p):
    x = T.imatrix("x")
    y = T.ivector("y")
    logits = model(x)
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(logits), y).mean()
    lr, b1, b2, eps = (np.float32(p[k]) for k in ("lr", "beta1", "beta2", "eps"))
    one = np.float32(1)  # 1 - numpy float32 would be a float64 (and so the updates)
    # Adam (Kingma & Ba 2014, lasagne.updates.adam's form: the bias corrections folded into the
    # step size)
    t_prev = theano.shared(np.float32(0))
    t = t_prev + 1
    step = lr * T.sqrt(one - b2 ** t) / (one - b1 ** t)
    updates = [(t_prev, t)]
    for w, g in zip(model.params, T.grad(loss, model.params)):
        m = theano.shared(np.zeros_like(w.get_value(borrow=True)))
        v = theano.shared(np.zeros_like(w.get_value(borrow=True)))
        m_new = b1 * m + (one - b1) * g
        v_new = b2 * v + (one - b2) * g ** 2
        updates += [(m, m_new), (v, v_new), (w, w - step * m_new / (T.sqrt(v_new) + eps))]
    # theano.function compiles on the first train_step / predict (the runner's warm-up and
    # first evaluation batch), as jit compilers do
    return {"model": model, "x": x, "y": y, "loss": loss, "logits": logits,
            "updates": updates, "train": None, "predict": None}


def train_step(state, x, y):
    if state["train"] is None:
        state["train"] = theano.function([state["x"], state["y"]], state["loss"],
                                         updates=state["updates"])
    return state["train"](x.astype(np.int32), y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    if state["predict"] is None:  # no dropout in this model: the training graph's logits
        state["predict"] = theano.function([state["x"]], T.argmax(state["logits"], axis=1))
    return state["predict"](x.astype(np.int32))


def sync(state):
    pass  # theano.function returns host values: nothing is left queued



# Model equivalence (dlbench check-models): the weights in the canonical form, family
# gru-reset-after-input-bias: Lasagne's GRU is the cuDNN form without a recurrent bias (the
# reset gate scales the recurrent product, c = tanh(W_c x + b_c + r * (U_c h)); one bias per
# gate, on the input side: gru.bias_ih, no gru.bias_hh). Lasagne's gate order is (r, u, c) =
# canonical (r, z, n), but its update gate weighs the NEW state, h = (1 - u) * h + u * c, where
# the canonical z weighs the old one: u = 1 - z = sigmoid(-a_z), so the u block of the weights
# and of the bias is negated each way (exactly). Weights here are (in, 3 * hidden), canonically
# (3 * hidden, in); the dense layer likewise.
_CANONICAL = ("embedding.weight", "gru.weight_ih", "gru.weight_hh", "gru.bias_ih", "fc.weight",
              "fc.bias")


def _negate_update(matrix, h):
    out = np.array(matrix, dtype=np.float32)
    out[h:2 * h] *= -1  # the u/z block: rows of a (3H, in) canonical matrix, entries of a bias
    return out


def export_params(state):
    model = state["model"]
    h = model.h
    return {"embedding.weight": model.embedding.get_value(),
            "gru.weight_ih": _negate_update(model.w_in.get_value().T, h),
            "gru.weight_hh": _negate_update(model.w_hid.get_value().T, h),
            "gru.bias_ih": _negate_update(model.b.get_value(), h),
            "fc.weight": model.w_out.get_value().T.copy(), "fc.bias": model.b_out.get_value()}


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, _CANONICAL)
    h = model.h
    for shared, value in ((model.embedding, params["embedding.weight"]),
                          (model.w_in, _negate_update(params["gru.weight_ih"], h).T),
                          (model.w_hid, _negate_update(params["gru.weight_hh"], h).T),
                          (model.b, _negate_update(params["gru.bias_ih"], h)),
                          (model.w_out, np.asarray(params["fc.weight"]).T),
                          (model.b_out, params["fc.bias"])):
        value = np.ascontiguousarray(value, dtype=np.float32)
        if value.shape != shared.get_value(borrow=True).shape:
            raise ValueError("shape %s from the canonical weights, Theano's is %s"
                             % (value.shape, shared.get_value(borrow=True).shape))
        shared.set_value(value)


def outputs(state, x):
    """The logits of a batch (N, T) of word indices, as numpy (compiled on the first call)."""
    if state.get("outputs") is None:
        state["outputs"] = theano.function([state["x"]], state["logits"])
    return state["outputs"](x.astype(np.int32))
