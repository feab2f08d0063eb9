"""CNN (VGG-style, CIFAR-10) in Keras 3, on the backend the variant names.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the backend is fixed when
keras is imported, so the variant picks it (run.py exports DLBENCH_VARIANT before importing
this file): tensorflow (the reference, also 'reference'), jax, torch, one result row each like
the 2017 Keras(TF)/Keras(CNTK)/Keras(Theano) rows; tensorflow-tuned is the tensorflow backend
with TensorFlow's oneDNN kernels switched on. Training uses the compiled train_on_batch
(tf.function / jax.jit; eager on torch). Keras's default layout is channels_last, so init()
asks the runner for NHWC images. Model as in the 2017 benchmark's Keras CNN notebook.
"""
import os

import numpy as np

_BACKENDS = {"reference": "tensorflow", "tensorflow": "tensorflow",
             "tensorflow-tuned": "tensorflow", "jax": "jax", "torch": "torch"}
os.environ["KERAS_BACKEND"] = _BACKENDS.get(os.environ.get("DLBENCH_VARIANT"), "tensorflow")
# tensorflow-tuned: TensorFlow's oneDNN CPU kernels, read when tensorflow is imported. TF >= 2.9
# turns them on by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX (TF 2.9 release
# notes); on others, such as an AVX2-only EPYC, the default is off.
if os.environ.get("DLBENCH_VARIANT") == "tensorflow-tuned":
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
import keras  # noqa: E402  (after KERAS_BACKEND)

FRAMEWORK = "keras"
VARIANTS = ("tensorflow", "tensorflow-tuned", "jax", "torch")  # backend (+ oneDNN)
_DEV = {"gpu": False}


def framework_version():
    return keras.__version__


def _onednn_on():
    """On the tensorflow backend: whether TensorFlow runs its oneDNN kernels (else None)."""
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def probe():
    backend = keras.backend.backend()
    info = {"backend": backend, "cuda": None, "threads": {"cpu_count": os.cpu_count()}}
    if backend == "tensorflow":
        import tensorflow as tf
        info["backend_version"] = tf.__version__
        info["cuda"] = tf.sysconfig.get_build_info().get("cuda_version")
    elif backend == "jax":
        import jax
        info["backend_version"] = jax.__version__
    elif backend == "torch":
        import torch
        info["backend_version"] = torch.__version__
        info["cuda"] = torch.version.cuda
        info["threads"]["torch"] = torch.get_num_threads()
    return info


def init(device, seed, variant):
    if _BACKENDS.get(variant) != keras.backend.backend():
        raise ValueError("variant %r: keras offers %s (the backend); this process imported "
                         "keras with %s" % (variant, ", ".join(VARIANTS),
                                             keras.backend.backend()))
    onednn = _onednn_on()
    if variant == "tensorflow-tuned" and onednn is False:
        raise RuntimeError("variant tensorflow-tuned: tensorflow was imported before "
                           "TF_ENABLE_ONEDNN_OPTS was set; run it through run.py")
    if device == "gpu":
        raise RuntimeError("--device gpu: this Keras image is CPU-only (tensorflow-cpu, "
                           "jax[cpu], torch+cpu); use --device cpu")
    keras.utils.set_random_seed(seed)
    return {"layout": "NHWC", "backend": keras.backend.backend(), "onednn": onednn,
            "image_data_format": keras.config.image_data_format()}


def build_model(p):
    c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
    L = keras.layers
    # Keras's defaults are the 2017 ones: glorot-uniform kernels, zero biases
    return keras.Sequential([
        keras.Input((p["height"], p["width"], p["channels"])),
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
        L.Flatten(),  # NHWC flatten order
        L.Dense(p["dense_units"], activation="relu"),
        L.Dropout(p["dropout_dense"]),
        L.Dense(p["n_classes"]),  # logits: softmax lives in the loss
    ])


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def build_trainer(model, p):
    # SGD with momentum, Keras's form: v = momentum * v - lr * g; w += v
    model.compile(optimizer=keras.optimizers.SGD(p["lr"], momentum=p["momentum"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model}


def train_step(state, x, y):
    # the compiled step (tf.function / jax.jit on tensorflow / jax; eager on torch), compiled
    # during the runner's warm-up; returns the loss on the host
    return state["model"].train_on_batch(x, y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    return np.argmax(state["model"].predict_on_batch(x), axis=1)


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued
