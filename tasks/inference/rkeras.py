"""Inference (ResNet-50 feature extraction) in R driving Keras (the R-Keras(TF) row):
tasks/inference/rkeras.R.

The network is built and asked to predict by the R file, as 2017's KerasR_TF_Inference did from
R (frameworks/rkeras.py: R hosts this Python; reticulate): Keras's ResNet50 without the top,
random weights, channels-last random images, batch 32. The images go to R as an R array and R
converts them to NumPy as R keras does (common/rkeras.R keras_array); the features come back as
an R array, as R keras returns them. R's model is the Python Keras model: the parameter count
and the weight mapping are Keras 3's (inference/keras3.py).
"""
import numpy as np

from frameworks import rkeras as fw
from inference import keras3 as same_keras_model

EQUIVALENCE = {"family": "resnet50-keras"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC",
            "network": "application_resnet50(include_top = FALSE, pooling = 'avg') from R"}
PARAMETERS = 23587712  # inference/keras3.py's: the same keras.applications.ResNet50
R = fw.r_functions("inference")


def build_model(p):
    return R["build_model"](p)


def count_parameters(model):
    return int(R["count_parameters"](model))


def load_weights(model, path):
    model.load_weights(path)  # a .weights.h5 of this model, or Keras's notop .h5


def predict(model, x):
    # features back on the host, as in 2017
    return np.asarray(R["predict_features"](model, x, x.shape[0]), dtype=np.float32)


def sync(model):
    pass  # predict returns host values: nothing is left queued


# model equivalence (`dlbench check-models`): R's network is keras.applications.ResNet50, so
# inference/keras3.py's mapping applies as it is

def export_params(model):
    return same_keras_model.export_params(model)


def import_params(model, params):
    same_keras_model.import_params(model, params)


def outputs(model, x):
    """The eval-mode pooled features (N, 2048) as float32 numpy."""
    return predict(model, x)
