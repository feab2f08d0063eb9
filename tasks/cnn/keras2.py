"""CNN (VGG-style, CIFAR-10) in Keras 2 (multi-backend), on the backend the variant names.

The 2017 Keras CNN notebooks (ilkarman/DeepLearningFrameworks, notebooks/Keras_Theano_CNN,
Keras_TF_CNN and Keras_CNTK_CNN.ipynb; Keras 2.1.4) set Keras's image data format to
channels_first for all three backends and trained with fit(); here the runner's loop calls
train_on_batch, which runs the same compiled training function one minibatch at a time (Keras
builds it on the first call: the runner's warm-up step; on Theano a minute or so of C
compilation in a fresh container). Keras API kept to what 2.1.4 and 2.3.1 both accept. Sizes in
common/params.py.
"""
import keras
import numpy as np

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
    model.add(L.Flatten())  # NCHW flatten order
    model.add(L.Dense(p["dense_units"], activation="relu"))
    model.add(L.Dropout(p["dropout_dense"]))
    model.add(L.Dense(p["n_classes"]))  # logits: softmax lives in the loss
    return model


def count_parameters(model):
    return sum(keras.backend.count_params(w) for w in model.trainable_weights)


def build_trainer(model, p):
    # SGD with momentum, Keras's form: v = momentum * v - lr * g; w += v
    model.compile(optimizer=keras.optimizers.SGD(lr=p["lr"], momentum=p["momentum"]),
                  loss=_sparse_crossentropy_from_logits)
    return {"model": model}


def train_step(state, x, y):
    # the compiled training function (built on the first call), loss back on the host
    return state["model"].train_on_batch(x, y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued
