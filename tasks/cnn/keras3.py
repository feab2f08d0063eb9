"""CNN (VGG-style, CIFAR-10) in Keras 3, on the backend the variant names.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the variant names the backend
(frameworks/keras3.py sets it before keras is imported). Training calls fit once an epoch, as
2017's Keras_TF_CNN trained (train_epoch; variant tensorflow-steps: train_on_batch per
minibatch), both the compiled step (tf.function / jax.jit; eager on torch). Channels-first on a
GPU, as 2017's Keras_TF_CNN set (K.set_image_data_format('channels_first')); channels-last
(Keras's default) on the CPU, where TensorFlow has no NCHW max-pool gradient. Model as in the
2017 benchmark's Keras CNN notebook.
"""
import keras
import numpy as np

from common import canonical
from frameworks import keras3 as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "layout_gpu": "NCHW"}  # fw.DEVICE["layout"]: the one in effect


def build_model(p):
    c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
    L = keras.layers
    if fw.DEVICE["layout"] == "NCHW":
        keras.config.set_image_data_format("channels_first")
        image = (p["channels"], p["height"], p["width"])
    else:
        keras.config.set_image_data_format("channels_last")
        image = (p["height"], p["width"], p["channels"])
    # Keras's defaults are the 2017 ones: glorot-uniform kernels, zero biases
    return keras.Sequential([
        keras.Input(image),
        L.Conv2D(c1, k, padding="same", activation="relu"),
        L.Conv2D(c1, k, padding="same"),
        L.MaxPooling2D(p["pool"]),
        L.Activation("relu"),
        L.Dropout(p["dropout_conv"]),
        L.Conv2D(c2, k, padding="same", activation="relu"),
        L.Conv2D(c2, k, padding="same"),
        L.MaxPooling2D(p["pool"]),
        L.Activation("relu"),
        L.Dropout(p["dropout_conv"]),
        L.Flatten(),  # (rows, columns, channels) order in both layouts (Keras 3's Flatten)
        L.Dense(p["dense_units"], activation="relu"),
        L.Dropout(p["dropout_dense"]),
        L.Dense(p["n_classes"]),  # logits: softmax lives in the loss
    ])


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def build_trainer(model, p):
    # SGD with momentum, Keras's form: v = momentum * v - lr * g; w += v
    model.compile(optimizer=keras.optimizers.SGD(p["lr"], momentum=p["momentum"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])  # 2017: accuracy, one-hot labels
    return {"model": model, "batch_size": p["batch_size"]}


def train_step(state, x, y):
    # the compiled step (tf.function / jax.jit on tensorflow / jax; eager on torch), compiled
    # during the runner's warm-up; returns the loss on the host
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


# model equivalence (`dlbench check-models`, common/canonical.py): kernels HWIO and dense
# (in, out) here, OIHW and (out, in) there; the first Dense reads the map flattened in
# (rows, columns, channels) order, so its inputs are permuted from the canonical NCHW order

def _layers(model):
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    return (list(zip(("conv1", "conv2", "conv3", "conv4"), convs)),
            list(zip(("fc1", "fc2"), dense)))


def _chw(convs, dense):
    return canonical.cnn_flat_shape(int(dense[0][1].get_weights()[0].shape[0]),
                                    int(convs[-1][1].get_weights()[1].shape[0]))


def export_params(state):
    convs, dense = _layers(state["model"])
    out = {}
    for name, layer in convs + dense:
        kernel, bias = layer.get_weights()
        out[name + ".weight"] = canonical.cnn_weight_from_nhwc(name, kernel, _chw(convs, dense))
        out[name + ".bias"] = bias
    return out


def import_params(state, params):
    convs, dense = _layers(state["model"])
    canonical.check_keys(params, list(export_params(state)))
    for name, layer in convs + dense:
        layer.set_weights([canonical.cnn_weight_to_nhwc(name, params[name + ".weight"],
                                                        _chw(convs, dense)),
                           params[name + ".bias"]])


def outputs(state, x):
    """The eval-mode logits (N, 10) as float32 numpy."""
    return np.asarray(state["model"].predict_on_batch(x), dtype=np.float32)
