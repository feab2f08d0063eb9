"""CNN (VGG-style, CIFAR-10) in CNTK (2.4 in the 2017 image, 2.7 in cntk-2.7).

Model as in the 2017 benchmark's CNTK_CNN notebook
(ilkarman/DeepLearningFrameworks, notebooks/CNTK_CNN.ipynb): cntk.layers under default_options
with Glorot-uniform weights and ReLU, channels-first inputs (3, 32, 32), one-hot float32 labels,
cross_entropy_with_softmax, momentum_sgd with a per-minibatch learning rate and unit_gain=False
(the plain "v = momentum * v + gradient" form the other frameworks use), Trainer.train_minibatch
per batch. Sizes in common/params.py.
"""
from __future__ import absolute_import, division, print_function
import numpy as np
import cntk as C
from cntk.layers import Convolution2D, Dense, Dropout, MaxPooling, default_options

from common import canonical
from frameworks import cntk as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "init": "glorot_uniform (2017's default_options)"}


def build_model(p):
    c1, c2, k, pool = p["conv1_filters"], p["conv2_filters"], p["kernel"], p["pool"]
    features = C.input_variable((p["channels"], p["height"], p["width"]), np.float32)
    # 2017 put the ReLU on the convolution before the pooling: the same as after (max is
    # monotonic). Dropout is on while training, off in eval().
    # the layers are named as the canonical weights (export_params finds them by name)
    with default_options(init=C.glorot_uniform(), activation=C.relu):
        x = Convolution2D((k, k), c1, pad=True, name="conv1")(features)
        x = Convolution2D((k, k), c1, pad=True, name="conv2")(x)
        x = MaxPooling((pool, pool), strides=(pool, pool), pad=False)(x)
        x = Dropout(p["dropout_conv"])(x)
        x = Convolution2D((k, k), c2, pad=True, name="conv3")(x)
        x = Convolution2D((k, k), c2, pad=True, name="conv4")(x)
        x = MaxPooling((pool, pool), strides=(pool, pool), pad=False)(x)
        x = Dropout(p["dropout_conv"])(x)
        x = Dense(p["dense_units"], name="fc1")(x)  # flattens the (C, H, W) input itself
        x = Dropout(p["dropout_dense"])(x)
        # logits: softmax lives in the loss
        return Dense(p["n_classes"], activation=None, name="fc2")(x)


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.parameters)


def build_trainer(model, p):
    labels = C.input_variable(p["n_classes"], np.float32)
    loss = C.cross_entropy_with_softmax(model, labels)
    learner = C.momentum_sgd(model.parameters,
                             lr=C.learning_rate_schedule(p["lr"], C.UnitType.minibatch),
                             momentum=C.momentum_schedule(p["momentum"]), unit_gain=False)
    trainer = C.Trainer(model, (loss, C.classification_error(model, labels)), [learner])
    return {"model": model, "trainer": trainer, "features": model.arguments[0],
            "labels": labels, "one_hot": np.eye(p["n_classes"], dtype=np.float32)}


def train_step(state, x, y):
    # numpy in; CNTK copies to the device inside train_minibatch. Labels one-hot, as in 2017.
    state["trainer"].train_minibatch({state["features"]: np.ascontiguousarray(x),
                                      state["labels"]: state["one_hot"][y]})
    return state["trainer"]  # the loss: the trainer keeps the last minibatch's


def to_float(loss):
    return float(loss.previous_minibatch_loss_average)


def predict(state, x):
    out = state["model"].eval({state["features"]: np.ascontiguousarray(x)})
    return np.argmax(out, axis=-1)


def sync(state):
    if fw.DEVICE["gpu"]:  # reading the last loss waits for the device
        to_float(state["trainer"])


# Model equivalence (dlbench check-models): the weights in the canonical form. Each named layer is
# found with Function.find_by_name and its parameters (W, b) read and set through .value. CNTK's
# convolution is a cross-correlation with W (out, in, rows, columns): OIHW; its bias is (out, 1,
# 1). Dense keeps W as (input shape..., out): fc1's is (C, H, W, 512), rows in the canonical NCHW
# flatten order once reshaped to (C * H * W, 512) and transposed.
_LAYERS = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")


def _layer(model, name):
    block = model.find_by_name(name)
    if block is None:
        raise ValueError("the CNTK CNN has no layer named %s" % name)
    return dict((w.name, w) for w in block.parameters)


def export_params(state):
    out = {}
    for name in _LAYERS:
        w = _layer(state["model"], name)
        kernel = np.asarray(w["W"].value, dtype=np.float32)
        if name.startswith("fc"):
            kernel = kernel.reshape(-1, kernel.shape[-1]).T  # (in..., out) -> (out, in)
        out[name + ".weight"] = np.ascontiguousarray(kernel)
        out[name + ".bias"] = np.asarray(w["b"].value, dtype=np.float32).reshape(-1)
    return out


def import_params(state, params):
    canonical.check_keys(params, [n + s for n in _LAYERS for s in (".weight", ".bias")])
    for name in _LAYERS:
        w = _layer(state["model"], name)
        kernel = np.asarray(params[name + ".weight"], dtype=np.float32)
        if name.startswith("fc"):
            kernel = kernel.T
        for key, value in (("W", kernel), ("b", params[name + ".bias"])):
            value = np.asarray(value, dtype=np.float32)
            if value.size != int(np.prod(w[key].shape)):
                raise ValueError("%s.%s: %d values, CNTK's is %s"
                                 % (name, key, value.size, tuple(w[key].shape)))
            w[key].value = np.ascontiguousarray(value.reshape(w[key].shape))


def outputs(state, x):
    """The logits of a batch (dropout off: eval), as float32 numpy."""
    out = state["model"].eval({state["features"]: np.ascontiguousarray(x)})
    return np.asarray(out, dtype=np.float32).reshape(len(x), -1)
