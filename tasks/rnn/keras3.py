"""RNN (GRU sentiment classifier, IMDB) in Keras 3, on the backend the variant names.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the variant names the backend
(frameworks/keras3.py sets it before keras is imported). Training uses the compiled train_on_batch
(tf.function / jax.jit; eager on torch). keras.layers.GRU defaults to the cuDNN/PyTorch form
(reset_after=True, two bias vectors: 68,100 weights). Model as in the 2017 benchmark's Keras RNN
notebook; sizes in common/params.py.
"""
import keras
import numpy as np

from frameworks import keras3 as fw

SETTINGS = {"layout": "NTC (batch major)"}


def build_model(p):
    L = keras.layers
    return keras.Sequential([
        keras.Input((p["maxlen"],), dtype="int32"),
        L.Embedding(p["max_features"], p["embedding"]),
        # last output; glorot / orthogonal / zero initialisers. use_cudnn: cuDNN's fused GRU on
        # a GPU (tensorflow, torch backends), as 2017's CuDNNGRU; never silently the slow path
        L.GRU(p["hidden"], use_cudnn=fw.DEVICE["cudnn_gru"]),
        L.Dense(p["n_classes"]),  # logits: softmax lives in the loss
    ])


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def build_trainer(model, p):
    model.compile(optimizer=keras.optimizers.Adam(p["lr"], beta_1=p["beta1"],
                                                  beta_2=p["beta2"], epsilon=p["eps"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model}


def train_step(state, x, y):
    # the compiled step (tf.function / jax.jit on tensorflow / jax; eager on torch), compiled
    # during the runner's warm-up; returns the loss on the host
    return state["model"].train_on_batch(x.astype(np.int32), y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x.astype(np.int32)), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued
