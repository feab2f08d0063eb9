"""CNN (VGG-style, CIFAR-10) in Knet (the Knet row): tasks/cnn/knet.jl.

The model is the Julia function of 2017's Knet_CNN (frameworks/knet.py: Julia hosts this
Python; PyCall): weights as plain KnetArrays, AutoGrad's gradient, update! with Momentum. This
file hands the runner's calls to the Julia functions and back; the images go to Julia as NCHW
arrays and Julia permutes them to Knet's column-major order (common/knet.jl whcn). Knet's conv4
is a true convolution (cuDNN's CONVOLUTION mode, Knet's default), so the kernels are flipped
against the canonical cross-correlations; its dense weights are (out, in) and mat() flattens a
(width, height, channels) map in the canonical (channels, height, width) order. Not run on this
project's machines (frameworks/knet.py says why).
"""
import numpy as np

from common import canonical
from frameworks import knet as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW"}  # fed NCHW: the same bytes as Knet's column-major WHCN
JULIA = fw.julia_functions("cnn")


def build_model(p):
    return JULIA["build_model"](p)


def count_parameters(model):
    return int(JULIA["count_parameters"](model))


def build_trainer(model, p):
    return JULIA["build_trainer"](model, p)


def train_step(state, x, y):
    return JULIA["train_step"](state, x, y.astype(np.int64))


def to_float(loss):
    return float(loss)


def predict(state, x):
    return np.asarray(JULIA["predict_labels"](state, x)).ravel()


def sync(state):
    pass  # train_step returns the loss as a host scalar, predict host labels: the GPU is done


# model equivalence (`dlbench check-models`): Julia's (kw, kh, in, out) kernels arrive as NumPy
# arrays of that shape: transposed to OIHW and flipped (a true convolution); biases (1, 1, C, 1)
# and (C, 1) flattened; dense weights (out, in) as they are

def _to_canonical(name, value):
    value = np.asarray(value, dtype=np.float32)
    if name.endswith(".bias"):
        return value.ravel()
    if value.ndim == 4:
        return value.transpose(3, 2, 1, 0)[:, :, ::-1, ::-1].copy()
    return value.copy()


def _from_canonical(name, value, like):
    value = np.asarray(value, dtype=np.float32)
    if value.ndim == 4:
        value = value[:, :, ::-1, ::-1].transpose(3, 2, 1, 0)
    return np.ascontiguousarray(value.reshape(like.shape))


def export_params(state):
    arrays = JULIA["export_weights"](state)
    return dict((name, _to_canonical(name, a)) for name, a in zip(canonical.CNN_WEIGHTS, arrays))


def import_params(state, params):
    canonical.check_keys(params, list(canonical.CNN_WEIGHTS))
    current = JULIA["export_weights"](state)
    JULIA["import_weights"](state, [_from_canonical(name, params[name], np.asarray(a))
                                    for name, a in zip(canonical.CNN_WEIGHTS, current)])


def outputs(state, x):
    """The eval-mode scores (N, 10) as float32 numpy (Knet's (10, N), transposed)."""
    return np.asarray(JULIA["scores"](state, x), dtype=np.float32).T.copy()
