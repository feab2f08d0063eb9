"""RNN (GRU sentiment classifier, IMDB) in Keras 2 (multi-backend), on the backend the variant
names.

As the 2017 Keras RNN notebooks (ilkarman/DeepLearningFrameworks, notebooks/Keras_TF_RNN and
Keras_CNTK_RNN.ipynb; Keras 2.1.4) built it: Embedding, a GRU returning its last output, Dense.
On a GPU with the TensorFlow backend the GRU is CuDNNGRU, as Keras_TF_RNN ran it (two bias
vectors: 68,100 weights); elsewhere Keras's GRU (one bias vector, reset gate before the
recurrent product: 67,800) with hard-sigmoid gates, as Keras_CNTK_RNN ran it (2017 had no
Keras(Theano) RNN; Keras 2.1.4's default gate, which Keras 2.3 changed to sigmoid: set here, so
both images run 2017's network). Trained as 2017 did, with fit(metrics=['accuracy']): one call
per epoch over the batches the runner shuffled (train_epoch). Keras API kept to what 2.1.4 and
2.3.1 both accept. Sizes in common/params.py.
"""
from __future__ import absolute_import, division, print_function
import keras
import numpy as np

from common import canonical
from frameworks import keras2 as fw

# common/canonical.py FAMILIES: Keras's GRU (on a GPU with TensorFlow, CuDNNGRU: the
# gru-reset-after form; see export_params)
EQUIVALENCE = {"family": "gru-reset-before"}
SETTINGS = {"layout": "NTC (batch major)"}


def _sparse_crossentropy_from_logits(y_true, y_pred):
    # softmax lives in the loss (2017: softmax layer + categorical_crossentropy, one-hot labels)
    return keras.backend.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


def build_model(p):
    L = keras.layers
    model = keras.models.Sequential()
    model.add(L.Embedding(p["max_features"], p["embedding"], input_length=p["maxlen"]))
    # last output; glorot / orthogonal / zero initialisers
    if fw.DEVICE["cudnn_gru"]:
        model.add(L.CuDNNGRU(p["hidden"]))  # sigmoid gates, cuDNN's
    else:
        # hard-sigmoid gates, written out: Keras 2.1.4's default, which 2017 ran; Keras 2.3
        # changed the default to sigmoid (a different network: check-models found it)
        model.add(L.GRU(p["hidden"], recurrent_activation="hard_sigmoid"))
    model.add(L.Dense(p["n_classes"]))  # logits: softmax lives in the loss
    return model


def count_parameters(model):
    return sum(keras.backend.count_params(w) for w in model.trainable_weights)


def build_trainer(model, p):
    model.compile(optimizer=keras.optimizers.Adam(lr=p["lr"], beta_1=p["beta1"],
                                                  beta_2=p["beta2"], epsilon=p["eps"]),
                  loss=_sparse_crossentropy_from_logits,
                  metrics=["sparse_categorical_accuracy"])  # 2017: accuracy, one-hot labels
    return {"model": model, "batch_size": p["batch_size"]}


def train_step(state, x, y):
    # the compiled training function (built on the first call), loss back on the host
    return state["model"].train_on_batch(x.astype(np.int32), y.astype(np.int32))


def train_epoch(state, x, y):
    # 2017's notebooks trained with model.fit(x, y, batch_size, epochs, verbose): Keras ran the
    # batch loop. One fit per epoch over the runner's shuffled complete batches (shuffle off:
    # the runner drew it); the loss back is Keras's mean over the epoch
    history = state["model"].fit(x.astype(np.int32), y.astype(np.int32),
                                 batch_size=state["batch_size"], epochs=1, shuffle=False,
                                 verbose=0)
    return history.history["loss"][-1]


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x.astype(np.int32)), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued



# Model equivalence (dlbench check-models): the weights in the canonical form. Keras's GRU is the
# gru-reset-before family (one bias; hh = tanh(W_h x + b_h + U_h (r * h)),
# h = z * h + (1 - z) * hh; hard-sigmoid gates, set in build_model):
# canonically gru.weight_ih (3H, E), gru.weight_hh (3H, H) and gru.bias (3H), gates in the
# order (r, z, n); Keras holds kernel (E, 3H), recurrent_kernel (H, 3H) and bias in the order
# (z, r, h). CuDNNGRU (a GPU with TensorFlow; not run here) is the cuDNN form: the same kernels
# and a bias of 6H, the input biases (z, r, h) then the recurrent ones, exported as gru.bias_ih
# and gru.bias_hh (family gru-reset-after, which EQUIVALENCE does not declare: it depends on the
# device, not the variant). Embedding (V, E) as canonical; dense (in, out), transposed.
def _cudnn(gru):
    return gru.get_weights()[2].shape[0] == 6 * gru.get_weights()[1].shape[0]


def export_params(state):
    embedding, gru, dense = state["model"].layers
    kernel, recurrent, bias = gru.get_weights()
    out = {"embedding.weight": embedding.get_weights()[0],
           "gru.weight_ih": canonical.reorder_gates(kernel.T, "zrn", "rzn"),
           "gru.weight_hh": canonical.reorder_gates(recurrent.T, "zrn", "rzn"),
           "fc.weight": canonical.dense_to_io(dense.get_weights()[0]),
           "fc.bias": dense.get_weights()[1]}
    if _cudnn(gru):
        out["gru.bias_ih"] = canonical.reorder_gates(bias[:len(bias) // 2], "zrn", "rzn")
        out["gru.bias_hh"] = canonical.reorder_gates(bias[len(bias) // 2:], "zrn", "rzn")
    else:
        out["gru.bias"] = canonical.reorder_gates(bias, "zrn", "rzn")
    return out


def import_params(state, params):
    embedding, gru, dense = state["model"].layers
    canonical.check_keys(params, list(export_params(state)))
    if _cudnn(gru):
        bias = np.concatenate([canonical.reorder_gates(params["gru.bias_ih"], "rzn", "zrn"),
                               canonical.reorder_gates(params["gru.bias_hh"], "rzn", "zrn")])
    else:
        bias = canonical.reorder_gates(params["gru.bias"], "rzn", "zrn")
    for layer, values in (
            (embedding, [params["embedding.weight"]]),
            (gru, [canonical.reorder_gates(params["gru.weight_ih"], "rzn", "zrn").T,
                   canonical.reorder_gates(params["gru.weight_hh"], "rzn", "zrn").T, bias]),
            (dense, [canonical.dense_to_io(params["fc.weight"]), params["fc.bias"]])):
        values = [np.ascontiguousarray(v, dtype=np.float32) for v in values]
        want = [w.shape for w in layer.get_weights()]
        if [v.shape for v in values] != want:
            raise ValueError("%s: shapes %s do not fit Keras's %s"
                             % (layer.name, [v.shape for v in values], want))
        layer.set_weights(values)


def outputs(state, x):
    """The logits of a batch (N, T) of word indices, as numpy."""
    return np.asarray(state["model"].predict_on_batch(x.astype(np.int32)))
