"""RNN (GRU sentiment classifier, IMDB) in Keras 2 (multi-backend), on the backend the variant
names.

As the 2017 Keras RNN notebooks (ilkarman/DeepLearningFrameworks, notebooks/Keras_TF_RNN and
Keras_CNTK_RNN.ipynb; Keras 2.1.4) built it: Embedding, a GRU returning its last output, Dense.
On a GPU with the TensorFlow backend the GRU is CuDNNGRU, as Keras_TF_RNN ran it (two bias
vectors: 68,100 weights); elsewhere Keras's GRU (one bias vector, reset gate before the
recurrent product: 67,800), as Keras_CNTK_RNN ran it (2017 had no Keras(Theano) RNN). The
runner's loop calls train_on_batch (the compiled training function, built on the first call).
Keras API kept to what 2.1.4 and 2.3.1 both accept. Sizes in common/params.py.
"""
import keras
import numpy as np

from frameworks import keras2 as fw

SETTINGS = {"layout": "NTC (batch major)"}


def _sparse_crossentropy_from_logits(y_true, y_pred):
    # softmax lives in the loss (2017: softmax layer + categorical_crossentropy, one-hot labels)
    return keras.backend.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


def build_model(p):
    L = keras.layers
    gru = L.CuDNNGRU if fw.DEVICE["cudnn_gru"] else L.GRU
    model = keras.models.Sequential()
    model.add(L.Embedding(p["max_features"], p["embedding"], input_length=p["maxlen"]))
    model.add(gru(p["hidden"]))  # last output; glorot / orthogonal / zero initialisers
    model.add(L.Dense(p["n_classes"]))  # logits: softmax lives in the loss
    return model


def count_parameters(model):
    return sum(keras.backend.count_params(w) for w in model.trainable_weights)


def build_trainer(model, p):
    model.compile(optimizer=keras.optimizers.Adam(lr=p["lr"], beta_1=p["beta1"],
                                                  beta_2=p["beta2"], epsilon=p["eps"]),
                  loss=_sparse_crossentropy_from_logits)
    return {"model": model}


def train_step(state, x, y):
    # the compiled training function (built on the first call), loss back on the host
    return state["model"].train_on_batch(x.astype(np.int32), y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x.astype(np.int32)), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued
