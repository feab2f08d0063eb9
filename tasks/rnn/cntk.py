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

from frameworks import cntk as fw

SETTINGS = {"layout": "sequence of one-hot word vectors (sparse)",
            "gru": "optimized_rnnstack (cuDNN) on a GPU, Recurrence(GRU) on the CPU"}


def build_model(p):
    features = sequence.input_variable(shape=p["max_features"], is_sparse=True)
    with default_options(init=C.glorot_uniform()):
        x = Embedding(p["embedding"])(features)
        if fw.DEVICE["gpu"]:
            # cuDNN's packed GRU weights, their size inferred from the input; no initialiser is
            # given, as in 2017's notebook
            w = C.parameter((C.InferredDimension, 4))
            x = C.optimized_rnnstack(x, w, p["hidden"], num_layers=1, bidirectional=False,
                                     recurrent_op="gru")
        else:
            x = Recurrence(GRU(p["hidden"]))(x)  # initial state: zeros
        x = sequence.last(x)
        return Dense(p["n_classes"])(x)  # logits: softmax lives in the loss


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
