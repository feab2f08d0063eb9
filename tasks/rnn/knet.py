"""RNN (GRU sentiment classifier, IMDB) in Knet (the Knet row): tasks/rnn/knet.jl.

The model is the Julia function of 2017's Knet_RNN (frameworks/knet.py: Julia hosts this
Python; PyCall): cuDNN's GRU (rnninit / rnnforw: Knet 0.8.5's RNN is cuDNN's, a GPU only), an
embedding matrix indexed by the word ids, a classifier matrix without a bias, Adam by update!.
The word ids go to Julia as a (batch, time) array.
"""
import numpy as np

from frameworks import knet as fw

SETTINGS = {"layout": "NTC (batch major)", "gru": "cuDNN (rnnforw)"}
NOT_CHECKED = ("no weight mapping written: cuDNN's packed GRU weights (rnnparam) and a classifier "
               "without a bias, in a column never run here (frameworks/knet.py)")
# embedding 3,750,000 + cuDNN's GRU 68,100 (two bias vectors) + the classifier's 200 (no bias,
# as the notebook's outputMatrix)
PARAMETERS = 3818300
JULIA = fw.julia_functions("rnn")


def build_model(p):
    return JULIA["build_model"](p)


def count_parameters(model):
    return int(JULIA["count_parameters"](model))


def build_trainer(model, p):
    return JULIA["build_trainer"](model, p)


def train_step(state, x, y):
    return JULIA["train_step"](state, x.astype(np.int64), y.astype(np.int64))


def to_float(loss):
    return float(loss)


def predict(state, x):
    return np.asarray(JULIA["predict_labels"](state, x.astype(np.int64))).ravel()


def sync(state):
    pass  # train_step returns the loss as a host scalar, predict host labels: the GPU is done
