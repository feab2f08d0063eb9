"""Keras 3: what every Keras 3 task file shares. The variant is the backend.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the backend is fixed when keras
is imported, so each variant sets KERAS_BACKEND, which run.py exports before load() imports
keras: one result row per backend, like the 2017 Keras(TF)/Keras(CNTK)/Keras(Theano) rows.
tensorflow-tuned is the tensorflow backend with TensorFlow's oneDNN CPU kernels switched on
(TF >= 2.9 turns them on by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX: TF 2.9
release notes). The host imports this module without keras installed.
"""
import os

NAME = "keras"
PACKAGES = ("keras", "tensorflow", "jax", "torch")
VARIANTS = [
    {"name": "tensorflow", "doc": "TensorFlow backend",
     "env": {"KERAS_BACKEND": "tensorflow"}, "row": "Keras(TF)"},
    {"name": "tensorflow-tuned", "doc": "TensorFlow backend, oneDNN CPU kernels on",
     "env": {"KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "1"}, "row": "Keras(TF)"},
    {"name": "jax", "doc": "JAX backend", "env": {"KERAS_BACKEND": "jax"}, "row": None},
    {"name": "torch", "doc": "PyTorch backend", "env": {"KERAS_BACKEND": "torch"}, "row": None},
]
DEVICE = {"gpu": False}
keras = None


def load():
    global keras
    import keras


def version():
    return keras.__version__


def _onednn_on():
    """On the tensorflow backend: whether TensorFlow runs its oneDNN kernels (else None)."""
    return _tensorflow_module().onednn_on() if keras.backend.backend() == "tensorflow" else None


def _tensorflow_module():
    """frameworks/tensorflow.py, loaded: TensorFlow's own switches, shared, not copied."""
    from frameworks import tensorflow as tensorflow_module
    tensorflow_module.load()
    return tensorflow_module


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
    wanted = [v["env"]["KERAS_BACKEND"] for v in VARIANTS if v["name"] == variant]
    if wanted != [keras.backend.backend()]:
        raise RuntimeError("variant %r needs the %s backend; this process imported keras with "
                           "%s: run it through run.py" % (variant, wanted[0] if wanted else "?",
                                                          keras.backend.backend()))
    onednn = _onednn_on()
    if variant == "tensorflow-tuned" and onednn is False:
        raise RuntimeError("variant tensorflow-tuned: tensorflow was imported before "
                           "TF_ENABLE_ONEDNN_OPTS was set; run it through run.py")
    if device == "gpu":
        raise RuntimeError("--device gpu: this Keras image is CPU-only (tensorflow-cpu, "
                           "jax[cpu], torch+cpu); use --device cpu")
    keras.utils.set_random_seed(seed)
    return {"backend": keras.backend.backend(), "onednn": onednn,
            "image_data_format": keras.config.image_data_format(), "precision": _true_fp32()}


def _true_fp32():
    """Pin true fp32 on the active backend, as the 2017 K80/P100 ran (no TF32): each backend's
    own switch (TensorFlow, JAX and PyTorch use TF32 on Ampere and newer GPUs by default).
    Returns what is in effect."""
    backend = keras.backend.backend()
    info = {"dtype": keras.config.floatx(), "policy": keras.config.dtype_policy().name}
    if backend == "tensorflow":
        tensorflow_precision = _tensorflow_module().true_fp32()
        tensorflow_precision.pop("dtype")
        info.update(tensorflow_precision)
    elif backend == "jax":
        import jax
        jax.config.update("jax_default_matmul_precision", "highest")
        info["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
    elif backend == "torch":
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        info["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return info
