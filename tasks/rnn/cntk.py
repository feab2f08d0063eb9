"""RNN (GRU sentiment classifier, IMDB) in CNTK (2.4 in the 2017 image, 2.7 in cntk-2.7).

Model as in the 2017 benchmark's CNTK_RNN notebook (ilkarman/DeepLearningFrameworks,
notebooks/CNTK_RNN.ipynb): a sparse one-hot sequence input (cntk.Value.one_hot of each batch of
word indices), Embedding, a GRU, the last step of the sequence (sequence.last), Dense(2);
Glorot-uniform layers, cross_entropy_with_softmax, Adam with unit_gain=False. 2017 ran cuDNN's
GRU, optimized_rnnstack (its CUDNN=True path): CNTK has that kernel on GPUs only, so on the CPU
this runs the notebook's other path, Recurrence(GRU). On the CPU the sparse input cannot train
with Adam either (CNTK 2.7: "AdamUpdate -> Feature Not Implemented", no sparse-gradient Adam on
the CPU): there each review is a sequence of word indices and the embedding a parameter read
with C.gather, whose dense gradient Adam updates (the same Adam on every weight, as 2017; the
same embedding values as the one-hot product). Every review is 150 tokens (zero-padded at the
end), so the last step is step 150, as elsewhere. Sizes in common/params.py.
"""
from __future__ import absolute_import, division, print_function
import numpy as np
import cntk as C
from cntk import sequence
from cntk.layers import GRU, Dense, Embedding, Recurrence, default_options

from common import canonical
from frameworks import cntk as fw

# common/canonical.py FAMILIES: cntk.layers.GRU (the CPU path); cuDNN's optimized_rnnstack (GPU)
# would be gru-reset-after, and its packed weights are not mapped (export_params)
EQUIVALENCE = {"family": "gru-reset-before-sigmoid"}
SETTINGS = {"layout": "a GPU: sequence of one-hot word vectors (sparse) into Embedding, as 2017; "
                      "the CPU: sequence of word indices, C.gather of the embedding (CNTK's "
                      "CPU Adam has no sparse gradient)",
            "gru": "optimized_rnnstack (cuDNN) on a GPU, Recurrence(GRU) on the CPU"}


def build_model(p):
    with default_options(init=C.glorot_uniform()):
        if fw.DEVICE["gpu"]:  # 2017's input: sparse one-hot words times the embedding
            features = sequence.input_variable(shape=p["max_features"], is_sparse=True)
            x = Embedding(p["embedding"], name="embedding")(features)
        else:  # word indices; the embedding's rows gathered (dense gradient: Adam on the CPU)
            features = sequence.input_variable(shape=(1,), name="words")
            table = C.parameter((p["max_features"], p["embedding"]), init=C.glorot_uniform(),
                                name="E")
            x = C.reshape(C.gather(table, features), (p["embedding"],))
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
            "labels": labels, "vocabulary": p["max_features"], "sparse": fw.DEVICE["gpu"],
            "one_hot": np.eye(p["n_classes"], dtype=np.float32)}


def _words(state, x):
    if state["sparse"]:  # each review as a sequence of sparse one-hot vectors (as 2017 did)
        return C.Value.one_hot(x.astype(np.int64).tolist(), state["vocabulary"])
    return np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), -1, 1)  # word indices


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


# Model equivalence (dlbench check-models): the weights in the canonical form
# (Function.find_by_name, parameters' .value). cntk.layers.GRU is the reset-before form with
# sigmoid gates (family gru-reset-before-sigmoid): z = s(x W_z + h H_z + b_z), r likewise, c =
# tanh(x W_c + b_c + (r * h) H1), h = (1 - z) * c + z * h; its parameters W (E, 3H), H (H, 2H), H1
# (H, H) and b (3H), gates stacked (z, r, c): canonically gru.weight_ih = W^T, gru.weight_hh = [H
# H1]^T and gru.bias, reordered to (r, z, n) (cntk/layers/blocks.py, _RecurrentBlock's gru). The
# embedding, the parameter named E either way, is (V, E); Dense W (H, 2) is transposed. The GPU
# path (optimized_rnnstack) packs cuDNN's weights in one parameter: not mapped.
def _parameters(model, name):
    block = model.find_by_name(name)
    if block is None:
        raise ValueError("the CNTK RNN has no layer named %s" % name)
    return dict((w.name, w) for w in block.parameters)


def _embedding(model):
    return [w for w in model.parameters if w.name == "E"][0]


def _cpu_gru(model):
    """The GRU's W, b, H and H1: the network's parameters besides the embedding (E) and the
    Dense layer's (CNTK 2.7 names the recurrence's output "gru", a NoOp without parameters; the
    square recurrent matrix is H1, named H in some versions)."""
    if fw.DEVICE["gpu"]:
        raise NotImplementedError("the GPU path's optimized_rnnstack packs cuDNN's GRU weights "
                                  "in one parameter, not mapped to the canonical form: check "
                                  "the CNTK RNN with --device cpu")
    dense = set(w.uid for w in _parameters(model, "fc").values())
    found = {}
    for w in model.parameters:
        if w.uid in dense or w.name == "E":
            continue
        name = w.name
        if name == "H" and len(w.shape) == 2 and w.shape[0] == w.shape[1]:
            name = "H1"
        found[name] = w
    if sorted(found) != ["H", "H1", "W", "b"]:
        raise ValueError("the CNTK GRU's parameters are %s, not W, b, H, H1" % sorted(found))
    return found


def _value(w):
    return np.asarray(w.value, dtype=np.float32)


def export_params(state):
    model = state["model"]
    gru = _cpu_gru(model)
    h = _value(gru["H1"]).shape[0]
    recurrent = np.concatenate([_value(gru["H"]), _value(gru["H1"])], axis=1)  # (H, 3H)
    fc = _parameters(model, "fc")
    return {"embedding.weight": _value(_embedding(model)),
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
    _set(_embedding(model), params["embedding.weight"], "embedding.weight")
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
