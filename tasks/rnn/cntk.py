"""RNN (GRU sentiment classifier, IMDB) in CNTK 2.4.

Not run yet (see frameworks/cntk.py). Model as in the 2017 benchmark's CNTK_RNN notebook
(ilkarman/DeepLearningFrameworks, notebooks/CNTK_RNN.ipynb): a sparse one-hot sequence input
(cntk.Value.one_hot of each batch of word indices), Embedding, a GRU, the last step of the
sequence (sequence.last), Dense(2); Glorot-uniform layers, cross_entropy_with_softmax, Adam with
unit_gain=False. 2017 ran cuDNN's GRU, optimized_rnnstack (its CUDNN=True path): CNTK has that
kernel on GPUs only, so on the CPU this runs the notebook's other path, Recurrence(GRU). Every
review is 150 tokens (zero-padded at the end), so the last step is step 150, as elsewhere.
Sizes in common/params.py.
"""
import numpy as np
import cntk as C
from cntk import sequence
from cntk.layers import GRU, Dense, Embedding, Recurrence, default_options

from common import canonical
from frameworks import cntk as fw

# common/canonical.py FAMILIES: cntk.layers.GRU (the CPU path); cuDNN's optimized_rnnstack (GPU)
# would be gru-reset-after, and its packed weights are not mapped (export_params)
EQUIVALENCE = {"family": "gru-reset-before-sigmoid"}
SETTINGS = {"layout": "sequence of one-hot word vectors (sparse)",
            "gru": "optimized_rnnstack (cuDNN) on a GPU, Recurrence(GRU) on the CPU"}


def build_model(p):
    features = sequence.input_variable(shape=p["max_features"], is_sparse=True)
    with default_options(init=C.glorot_uniform()):
        x = Embedding(p["embedding"], name="embedding")(features)
        if fw.DEVICE["gpu"]:
            # cuDNN's packed GRU weights, their size inferred from the input; no initialiser is
            # given, as in 2017's notebook
            w = C.parameter((C.InferredDimension, 4))
            x = C.optimized_rnnstack(x, w, p["hidden"], num_layers=1, bidirectional=False,
                                     recurrent_op="gru")
        else:
            x = Recurrence(GRU(p["hidden"]), name="gru")(x)  # initial state: zeros
        x = sequence.last(x)
        return Dense(p["n_classes"], name="fc")(x)  # logits: softmax lives in the loss


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.parameters)


def build_trainer(model, p):
    labels = C.input_variable(p["n_classes"], np.float32)
    loss = C.cross_entropy_with_softmax(model, labels)
    learner = C.adam(model.parameters,
                     lr=C.learning_rate_schedule(p["lr"], C.UnitType.minibatch),
                     momentum=C.momentum_schedule(p["beta1"]),
                     variance_momentum=C.momentum_schedule(p["beta2"]),
                     epsilon=p["eps"], unit_gain=False)
    trainer = C.Trainer(model, (loss, C.classification_error(model, labels)), [learner])
    return {"model": model, "trainer": trainer, "features": model.arguments[0],
            "labels": labels, "vocabulary": p["max_features"],
            "one_hot": np.eye(p["n_classes"], dtype=np.float32)}


def _words(state, x):
    # each review as a sequence of sparse one-hot vectors (built on the host, as 2017 did)
    return C.Value.one_hot(x.astype(np.int64).tolist(), state["vocabulary"])


def train_step(state, x, y):
    state["trainer"].train_minibatch({state["features"]: _words(state, x),
                                      state["labels"]: state["one_hot"][y]})
    return state["trainer"]  # the loss: the trainer keeps the last minibatch's


def to_float(loss):
    return float(loss.previous_minibatch_loss_average)


def predict(state, x):
    out = state["model"].eval({state["features"]: _words(state, x)})
    return np.argmax(out, axis=-1)


def sync(state):
    if fw.DEVICE["gpu"]:  # reading the last loss waits for the device
        to_float(state["trainer"])


# Model equivalence (dlbench check-models): the weights in the canonical form. NOT RUN (see
# frameworks/cntk.py), written to CNTK 2.4's documented API (Function.find_by_name, parameters'
# .value). cntk.layers.GRU is the reset-before form with sigmoid gates (family
# gru-reset-before-sigmoid): z = s(x W_z + h H_z + b_z), r likewise, c = tanh(x W_c + b_c +
# (r * h) H1), h = (1 - z) * c + z * h; its parameters W (E, 3H), H (H, 2H), H1 (H, H) and b
# (3H), gates stacked (z, r, c): canonically gru.weight_ih = W^T, gru.weight_hh = [H H1]^T and
# gru.bias, reordered to (r, z, n) (cntk/layers/blocks.py, _RecurrentBlock's gru). Embedding
# E is (V, E); Dense W (H, 2) is transposed. The GPU path (optimized_rnnstack) packs cuDNN's
# weights in one parameter: not mapped.
def _parameters(model, name):
    block = model.find_by_name(name)
    if block is None:
        raise ValueError("the CNTK RNN has no layer named %s" % name)
    return dict((w.name, w) for w in block.parameters)


def _cpu_gru(model):
    """The GRU's W, b, H and H1 (CNTK names both recurrent matrices 'H': H1 is the square
    one)."""
    if fw.DEVICE["gpu"]:
        raise NotImplementedError("the GPU path's optimized_rnnstack packs cuDNN's GRU weights "
                                  "in one parameter, not mapped to the canonical form: check "
                                  "the CNTK RNN with --device cpu")
    block = model.find_by_name("gru")
    if block is None:
        raise ValueError("the CNTK RNN has no layer named gru")
    found = dict((w.name, w) for w in block.parameters if w.name in ("W", "b"))
    for w in block.parameters:
        if w.name == "H":
            found["H1" if w.shape[-1] == w.shape[0] else "H"] = w
    return found


def _value(w):
    return np.asarray(w.value, dtype=np.float32)


def export_params(state):
    model = state["model"]
    gru = _cpu_gru(model)
    h = _value(gru["H1"]).shape[0]
    recurrent = np.concatenate([_value(gru["H"]), _value(gru["H1"])], axis=1)  # (H, 3H)
    fc = _parameters(model, "fc")
    return {"embedding.weight": _value(_parameters(model, "embedding")["E"]),
            "gru.weight_ih": canonical.reorder_gates(_value(gru["W"]).T, "zrn", "rzn"),
            "gru.weight_hh": canonical.reorder_gates(recurrent.T, "zrn", "rzn"),
            "gru.bias": canonical.reorder_gates(_value(gru["b"]).reshape(3 * h), "zrn", "rzn"),
            "fc.weight": np.ascontiguousarray(_value(fc["W"]).T),
            "fc.bias": _value(fc["b"]).reshape(-1)}


def _set(w, value, name):
    value = np.asarray(value, dtype=np.float32)
    if value.size != int(np.prod(w.shape)):
        raise ValueError("%s: %d values, CNTK's %s is %s"
                         % (name, value.size, w.name, tuple(w.shape)))
    w.value = np.ascontiguousarray(value.reshape(w.shape))


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, ["embedding.weight", "gru.weight_ih", "gru.weight_hh",
                                  "gru.bias", "fc.weight", "fc.bias"])
    gru = _cpu_gru(model)
    h = np.asarray(params["gru.weight_hh"]).shape[1]
    recurrent = canonical.reorder_gates(params["gru.weight_hh"], "rzn", "zrn").T  # (H, 3H)
    _set(_parameters(model, "embedding")["E"], params["embedding.weight"], "embedding.weight")
    _set(gru["W"], canonical.reorder_gates(params["gru.weight_ih"], "rzn", "zrn").T,
         "gru.weight_ih")
    _set(gru["H"], recurrent[:, :2 * h], "gru.weight_hh")
    _set(gru["H1"], recurrent[:, 2 * h:], "gru.weight_hh")
    _set(gru["b"], canonical.reorder_gates(params["gru.bias"], "rzn", "zrn"), "gru.bias")
    fc = _parameters(model, "fc")
    _set(fc["W"], np.asarray(params["fc.weight"]).T, "fc.weight")
    _set(fc["b"], params["fc.bias"], "fc.bias")


def outputs(state, x):
    """The final logits of a batch (N, T) of word indices, as float32 numpy."""
    out = state["model"].eval({state["features"]: _words(state, x)})
    return np.asarray(out, dtype=np.float32).reshape(len(x), -1)
