"""CNN (VGG-style, CIFAR-10) in Keras 2 (multi-backend), on the backend the variant names.

The 2017 Keras CNN notebooks (ilkarman/DeepLearningFrameworks, notebooks/Keras_Theano_CNN,
Keras_TF_CNN and Keras_CNTK_CNN.ipynb; Keras 2.1.4) set Keras's image data format to
channels_first for all three backends and trained with fit(metrics=['accuracy']); so does this
file, one fit call per epoch over the batches the runner shuffled (train_epoch; Keras builds its
training function on the first call, the runner's warm-up on one minibatch: on Theano a minute
or so of C compilation in a fresh container). Keras API kept to what 2.1.4 and 2.3.1 both
accept. Sizes in common/params.py.
"""
from __future__ import absolute_import, division, print_function
import keras
import numpy as np

from common import canonical

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW"}  # channels_first, as the 2017 notebooks set it


def _sparse_crossentropy_from_logits(y_true, y_pred):
    # softmax lives in the loss (2017: softmax layer + categorical_crossentropy, one-hot labels)
    return keras.backend.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


def build_model(p):
    keras.backend.set_image_data_format("channels_first")
    c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
    L = keras.layers
    # Keras's defaults are the 2017 ones: glorot-uniform kernels, zero biases
    model = keras.models.Sequential()
    model.add(L.Conv2D(c1, (k, k), padding="same", activation="relu",
                       input_shape=(p["channels"], p["height"], p["width"])))
    model.add(L.Conv2D(c1, (k, k), padding="same", activation="relu"))
    model.add(L.MaxPooling2D(pool_size=(p["pool"], p["pool"])))
    model.add(L.Dropout(p["dropout_conv"]))
    model.add(L.Conv2D(c2, (k, k), padding="same", activation="relu"))
    model.add(L.Conv2D(c2, (k, k), padding="same", activation="relu"))
    model.add(L.MaxPooling2D(pool_size=(p["pool"], p["pool"])))
    model.add(L.Dropout(p["dropout_conv"]))
    model.add(L.Flatten())  # (H, W, C) order on Keras >= 2.2.3, (C, H, W) on 2.1.4: export_params
    model.add(L.Dense(p["dense_units"], activation="relu"))
    model.add(L.Dropout(p["dropout_dense"]))
    model.add(L.Dense(p["n_classes"]))  # logits: softmax lives in the loss
    return model


def count_parameters(model):
    return sum(keras.backend.count_params(w) for w in model.trainable_weights)


def build_trainer(model, p):
    # SGD with momentum, Keras's form: v = momentum * v - lr * g; w += v
    model.compile(optimizer=keras.optimizers.SGD(lr=p["lr"], momentum=p["momentum"]),
                  loss=_sparse_crossentropy_from_logits,
                  metrics=["sparse_categorical_accuracy"])  # 2017: accuracy, one-hot labels
    return {"model": model, "batch_size": p["batch_size"]}


def train_step(state, x, y):
    # the compiled training function (built on the first call), loss back on the host
    return state["model"].train_on_batch(x, y.astype(np.int32))


def train_epoch(state, x, y):
    # 2017's notebooks trained with model.fit(x, y, batch_size, epochs, verbose): Keras ran the
    # batch loop. One fit per epoch over the runner's shuffled complete batches (shuffle off:
    # the runner drew it); the loss back is Keras's mean over the epoch
    history = state["model"].fit(x, y.astype(np.int32),
                                 batch_size=state["batch_size"], epochs=1, shuffle=False,
                                 verbose=0)
    return history.history["loss"][-1]


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued


# Model equivalence (dlbench check-models): the weights in the canonical form. Keras keeps a
# convolution kernel as (rows, columns, in, out) and a dense one as (in, out) on every backend;
# on Theano a Keras convolution is a true convolution (conv2d's default filter_flip: Keras flips
# kernels when it loads weights saved on another backend), so its kernels are flipped in both
# spatial axes to the canonical cross-correlation. Flatten: Keras >= 2.2.3 flattens a
# channels_first map in (rows, columns, channels) order (Flatten's data_format), Keras 2.1.4 in
# (channels, rows, columns); fc1's input rows are permuted to the canonical NCHW order.
_CANONICAL = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")


def _flips():
    return keras.backend.backend() == "theano"


def _hwc_flatten(model):
    """(channels, rows, columns) of fc1's input when Flatten orders it rows, columns, channels;
    None when it flattens in the canonical order."""
    flatten = [layer for layer in model.layers if isinstance(layer, keras.layers.Flatten)][0]
    if getattr(flatten, "data_format", "channels_last") != "channels_first":
        return None
    return tuple(flatten.input_shape[1:])


def _weighted(model):
    layers = [layer for layer in model.layers if layer.get_weights()]
    if len(layers) != len(_CANONICAL):
        raise ValueError("the Keras CNN has %d layers with weights, the canonical CNN %d"
                         % (len(layers), len(_CANONICAL)))
    return list(zip(_CANONICAL, layers))


def export_params(state):
    model = state["model"]
    out, chw = {}, _hwc_flatten(model)
    for name, layer in _weighted(model):
        kernel, bias = layer.get_weights()
        if kernel.ndim == 4:
            kernel = kernel.transpose(3, 2, 0, 1)  # (rows, columns, in, out) -> OIHW
            if _flips():
                kernel = kernel[:, :, ::-1, ::-1]
        else:
            if name == "fc1" and chw is not None:  # input rows (H, W, C) -> (C, H, W)
                c, h, w = chw
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1)
            kernel = kernel.T
        out[name + ".weight"] = np.ascontiguousarray(kernel)
        out[name + ".bias"] = bias
    return out


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, [n + s for n in _CANONICAL for s in (".weight", ".bias")])
    chw = _hwc_flatten(model)
    for name, layer in _weighted(model):
        kernel = np.asarray(params[name + ".weight"], dtype=np.float32)
        if kernel.ndim == 4:
            if _flips():
                kernel = kernel[:, :, ::-1, ::-1]
            kernel = kernel.transpose(2, 3, 1, 0)  # OIHW -> (rows, columns, in, out)
        else:
            kernel = kernel.T
            if name == "fc1" and chw is not None:  # input rows (C, H, W) -> (H, W, C)
                c, h, w = chw
                kernel = kernel.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(c * h * w, -1)
        bias = np.asarray(params[name + ".bias"], dtype=np.float32)
        want = [w.shape for w in layer.get_weights()]
        if [kernel.shape, bias.shape] != want:
            raise ValueError("%s: shapes %s and %s do not fit Keras's %s"
                             % (name, kernel.shape, bias.shape, want))
        layer.set_weights([np.ascontiguousarray(kernel), bias])


def outputs(state, x):
    """The logits of a batch, dropout off (predict runs the test phase), as numpy."""
    return np.asarray(state["model"].predict_on_batch(x))
