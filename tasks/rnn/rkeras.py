"""RNN (GRU sentiment classifier, IMDB) in R driving Keras (the R-Keras(TF) row):
tasks/rnn/rkeras.R.

The model is built, compiled, fit and asked for classes by the R file, as 2017's KerasR_TF_RNN
did from R (frameworks/rkeras.py: R hosts this Python; reticulate). This file hands the runner's
calls to the R functions and back: the word indices go to R as an R integer matrix, R converts
them to NumPy as R keras does (common/rkeras.R keras_array). Keras 3's GRU (reset_after=True,
two bias vectors: 68,100 weights); R's model is the Python Keras model, so the weight mapping is
Keras 3's (rnn/keras3.py).
"""
import numpy as np

from frameworks import rkeras as fw
from rnn import keras3 as same_keras_model

EQUIVALENCE = {"family": "gru-reset-after"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC (batch major)"}
R = fw.r_functions("rnn")


def build_model(p):
    return R["build_model"](dict(p, cudnn_gru=fw.DEVICE["gpu"]))


def count_parameters(model):
    return int(R["count_parameters"](model))


def build_trainer(model, p):
    return R["build_trainer"](model, p)


def train_step(state, x, y):
    return R["train_step"](state, x.astype(np.int32), y.astype(np.int32))


def train_epoch(state, x, y):
    return R["train_epoch"](state, x.astype(np.int32), y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.asarray(R["predict_labels"](state, x.astype(np.int32))).ravel()


def sync(state):
    pass  # fit, train_on_batch and predict return host values: nothing is left queued


# model equivalence (`dlbench check-models`): R's model is a Keras 3 Sequential model with the
# layers of rnn/keras3.py, so its mapping applies as it is

def export_params(state):
    return same_keras_model.export_params(state)


def import_params(state, params):
    same_keras_model.import_params(state, params)


def outputs(state, x):
    """The eval-mode final logits (N, 2) as float32 numpy."""
    return same_keras_model.outputs(state, x)
