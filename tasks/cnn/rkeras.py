"""CNN (VGG-style, CIFAR-10) in R driving Keras (the R-Keras(TF) row): tasks/cnn/rkeras.R.

The model is built, compiled, fit and asked for classes by the R file, as 2017's KerasR_TF_CNN
did from R (frameworks/rkeras.py: R hosts this Python; reticulate). This file hands the runner's
calls to the R functions and back: the arrays go to R as R arrays, R converts them to NumPy as R
keras does (common/rkeras.R keras_array). R's model is the Python Keras model, so the weight
mapping is Keras 3's (cnn/keras3.py). Channels-last on the CPU, where TensorFlow has no NCHW
max-pool gradient; channels-first on a GPU, as the notebook set.
"""
import numpy as np

from frameworks import rkeras as fw
from cnn import keras3 as same_keras_model

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "layout_gpu": "NCHW"}  # fw.DEVICE["layout"]: the one in effect
R = fw.r_functions("cnn")


def build_model(p):
    return R["build_model"](dict(p, layout=fw.DEVICE["layout"]))


def count_parameters(model):
    return int(R["count_parameters"](model))


def build_trainer(model, p):
    return R["build_trainer"](model, p)


def train_step(state, x, y):
    return R["train_step"](state, x, y.astype(np.int32))


def train_epoch(state, x, y):
    return R["train_epoch"](state, x, y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.asarray(R["predict_labels"](state, x)).ravel()


def sync(state):
    pass  # fit, train_on_batch and predict return host values: nothing is left queued


# model equivalence (`dlbench check-models`): R's model is a Keras 3 Sequential model with the
# layers of cnn/keras3.py in the same order, so its mapping applies as it is

def export_params(state):
    return same_keras_model.export_params(state)


def import_params(state, params):
    same_keras_model.import_params(state, params)


def outputs(state, x):
    """The eval-mode logits (N, 10) as float32 numpy."""
    return same_keras_model.outputs(state, x)
