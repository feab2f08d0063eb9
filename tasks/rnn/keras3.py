"""RNN (GRU sentiment classifier, IMDB) in Keras 3, on the backend the variant names.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the variant names the backend
(frameworks/keras3.py sets it before keras is imported). Training calls fit once an epoch, as
2017's Keras_TF_RNN trained (train_epoch; variant tensorflow-steps: train_on_batch per
minibatch), both the compiled step (tf.function / jax.jit; eager on torch). keras.layers.GRU
defaults to the cuDNN/PyTorch form (reset_after=True, two bias vectors: 68,100 weights). Model
as in the 2017 benchmark's Keras RNN notebook; sizes in common/params.py.
"""
import keras
import numpy as np

from common import canonical
from frameworks import keras3 as fw

EQUIVALENCE = {"family": "gru-reset-after"}  # common/canonical.py FAMILIES
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
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])  # 2017: accuracy, one-hot labels
    return {"model": model, "batch_size": p["batch_size"]}


def train_step(state, x, y):
    # the compiled step (tf.function / jax.jit on tensorflow / jax; eager on torch), compiled
    # during the runner's warm-up; returns the loss on the host
    return state["model"].train_on_batch(x.astype(np.int32), y.astype(np.int32))


def train_epoch(state, x, y):
    # 2017's notebooks trained with model.fit(x, y, batch_size, epochs, verbose): Keras ran the
    # batch loop. One fit per epoch over the runner's shuffled complete batches (shuffle off:
    # the runner drew it); the loss back is Keras's mean over the epoch
    history = state["model"].fit(x.astype(np.int32), y.astype(np.int32),
                                 batch_size=state["batch_size"], epochs=1, shuffle=False,
                                 verbose=0)
    return history.history["loss"][-1]


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x.astype(np.int32)), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued


# model equivalence (`dlbench check-models`, common/canonical.py): Keras's GRU (reset_after=True)
# holds kernel (E, 3H), recurrent_kernel (H, 3H) and bias (2, 3H) = (input, recurrent), gate
# blocks in the order (z, r, n); the canonical order is (r, z, n), weights (3H, in)

def _layers(model):
    def find(kind):
        return [l for l in model.layers if isinstance(l, kind)][0]
    return find(keras.layers.Embedding), find(keras.layers.GRU), find(keras.layers.Dense)


def export_params(state):
    embedding, gru, dense = _layers(state["model"])
    kernel, recurrent, bias = gru.get_weights()
    fc_kernel, fc_bias = dense.get_weights()
    return {"embedding.weight": embedding.get_weights()[0],
            "gru.weight_ih": canonical.reorder_gates(kernel.T, "zrn", "rzn"),
            "gru.weight_hh": canonical.reorder_gates(recurrent.T, "zrn", "rzn"),
            "gru.bias_ih": canonical.reorder_gates(bias[0], "zrn", "rzn"),
            "gru.bias_hh": canonical.reorder_gates(bias[1], "zrn", "rzn"),
            "fc.weight": np.ascontiguousarray(fc_kernel.T), "fc.bias": fc_bias}


def import_params(state, params):
    embedding, gru, dense = _layers(state["model"])
    canonical.check_keys(params, list(export_params(state)))

    def keras_order(name):
        return canonical.reorder_gates(params[name], "rzn", "zrn")

    embedding.set_weights([params["embedding.weight"]])
    gru.set_weights([canonical.dense_to_io(keras_order("gru.weight_ih")),
                     canonical.dense_to_io(keras_order("gru.weight_hh")),
                     np.stack([keras_order("gru.bias_ih"), keras_order("gru.bias_hh")])])
    dense.set_weights([canonical.dense_to_io(params["fc.weight"]), params["fc.bias"]])


def outputs(state, x):
    """The eval-mode final logits (N, 2) as float32 numpy."""
    return np.asarray(state["model"].predict_on_batch(x.astype(np.int32)), dtype=np.float32)
