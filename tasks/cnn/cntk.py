"""CNN (VGG-style, CIFAR-10) in CNTK 2.4.

Not run yet (see frameworks/cntk.py). Model as in the 2017 benchmark's CNTK_CNN notebook
(ilkarman/DeepLearningFrameworks, notebooks/CNTK_CNN.ipynb): cntk.layers under default_options
with Glorot-uniform weights and ReLU, channels-first inputs (3, 32, 32), one-hot float32 labels,
cross_entropy_with_softmax, momentum_sgd with a per-minibatch learning rate and unit_gain=False
(the plain "v = momentum * v + gradient" form the other frameworks use), Trainer.train_minibatch
per batch. Sizes in common/params.py.
"""
import numpy as np
import cntk as C
from cntk.layers import Convolution2D, Dense, Dropout, MaxPooling, default_options

from frameworks import cntk as fw

SETTINGS = {"layout": "NCHW", "init": "glorot_uniform (2017's default_options)"}


def build_model(p):
    c1, c2, k, pool = p["conv1_filters"], p["conv2_filters"], p["kernel"], p["pool"]
    features = C.input_variable((p["channels"], p["height"], p["width"]), np.float32)
    # 2017 put the ReLU on the convolution before the pooling: the same as after (max is
    # monotonic). Dropout is on while training, off in eval().
    with default_options(init=C.glorot_uniform(), activation=C.relu):
        x = Convolution2D((k, k), c1, pad=True)(features)
        x = Convolution2D((k, k), c1, pad=True)(x)
        x = MaxPooling((pool, pool), strides=(pool, pool), pad=False)(x)
        x = Dropout(p["dropout_conv"])(x)
        x = Convolution2D((k, k), c2, pad=True)(x)
        x = Convolution2D((k, k), c2, pad=True)(x)
        x = MaxPooling((pool, pool), strides=(pool, pool), pad=False)(x)
        x = Dropout(p["dropout_conv"])(x)
        x = Dense(p["dense_units"])(x)  # flattens the (C, H, W) input itself
        x = Dropout(p["dropout_dense"])(x)
        return Dense(p["n_classes"], activation=None)(x)  # logits: softmax lives in the loss


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
