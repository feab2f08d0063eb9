"""Keras 2 (multi-backend): what every Keras 2 task file shares. The variant is the backend.

Keras 2 ran one model definition on TensorFlow, CNTK or Theano; the backend is fixed when keras
is imported, so each variant sets KERAS_BACKEND before load() imports it: one result row per
backend, 2017's Keras(Theano), Keras(TF) and Keras(CNTK). One set of task files serves two
images, so they keep to the Keras 2 API both accept: Keras 2.1.4 (the 2017 image, images/keras:
TensorFlow 1.4, CNTK 2.4, Theano 1.0.1) and Keras 2.3.1, the last multi-backend release
(keras-2.3: Theano only). Each image names the variants it offers in its org.dlbench.variants
label. The host imports this module without keras installed.
"""
from __future__ import absolute_import, division, print_function
import random

# the tasks whose tuned variant turns Theano's OpenMP on: frameworks/theano.py OPENMP_TASKS
# (measured there), written out since the host reads this file with the standard library only
OPENMP_TASKS = {"cnn": {"THEANO_FLAGS": "openmp=True"},
                "inference": {"THEANO_FLAGS": "openmp=True"}}
NAME = "keras"
PACKAGES = ("keras", "theano", "tensorflow", "cntk")
VARIANTS = [
    {"name": "theano", "doc": "Theano backend", "env": {"KERAS_BACKEND": "theano"},
     "row": "Keras(Theano)"},
    # OpenBLAS's kernel for this CPU's flags and, for the CNN and inference, Theano's OpenMP:
    # frameworks/theano.py's tuned variant, on Keras. Measured on Keras (2-CPU AMD EPYC,
    # alternating rounds): CNN 159/189 -> 196/225 img/s, inference 5.3/5.4 -> 6.1/5.9 img/s,
    # GRU 595/745 -> 537/588 sequences/s (so not for the RNN)
    {"name": "theano-tuned", "doc": "Theano backend, OpenBLAS's kernel set for this CPU's flags; "
     "for the CNN and inference also Theano's OpenMP (THEANO_FLAGS=openmp=True); the "
     "inference graph built with the learning phase fixed",
     "env": {"KERAS_BACKEND": "theano", "OPENBLAS_CORETYPE": "{openblas_coretype}"},
     "task_env": OPENMP_TASKS, "row": "Keras(Theano)",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "Theano's convolutions and max-pool gradient: profiled "
                    "(THEANO_FLAGS profile=True, OpenMP on; 2-CPU AMD EPYC, 1,024 synthetic, "
                    "238 img/s), MaxPoolGrad 24 % of the step, the convolutions (CorrMM: "
                    "im2col and an OpenBLAS GEMM per image) 48 %, dropout's masks 6 %",
                    "inference": "Keras's channels-last batch-norms as Theano element-wise ops: "
                    "profiled (OpenMP on, learning phase fixed, 192 synthetic images, 9 img/s), "
                    "element-wise ops 48 % of the time, the convolutions (CorrMM) 44 % at "
                    "about 165 GFLOP/s, the stem's max pooling 6 %"}},
    {"name": "tensorflow", "doc": "TensorFlow backend", "env": {"KERAS_BACKEND": "tensorflow"},
     "row": "Keras(TF)"},
    {"name": "cntk", "doc": "CNTK backend", "env": {"KERAS_BACKEND": "cntk"},
     "row": "Keras(CNTK)"},
    # MKL's AVX2 kernels on an AMD CPU: frameworks/cntk.py's tuned variant, on Keras (the CNN
    # 124/130 -> 213/198 img/s, 2-CPU AMD EPYC, alternating rounds)
    {"name": "cntk-tuned", "doc": "CNTK backend, MKL's AVX2 kernels on an AMD CPU "
     "(MKL_DEBUG_CPU_TYPE=5)",
     "env": {"KERAS_BACKEND": "cntk", "MKL_DEBUG_CPU_TYPE": "{mkl_amd_cpu_type}"},
     "row": "Keras(CNTK)",
     # what holds each task below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "CNTK's convolutions, as CNTK's own tuned row (profiled there): "
                    "189.7 img/s against CNTK's 196.4 in one bench (2-CPU AMD EPYC)",
                    "inference": "Keras 2.1.4's graph on CNTK: the cntk variant ran 1.7 img/s "
                    "against CNTK's own ResNet-50 at 5.2 (reference) and 12.1 (tuned) in one "
                    "bench (2-CPU AMD EPYC); not profiled per node (CNTK's profiler times "
                    "training only)"}},
]
# set by init(), read by the task files; tuned: a -tuned variant (on Theano the inference graph
# is built for inference only, tasks/inference/keras2.py)
DEVICE = {"gpu": False, "cudnn_gru": False, "tuned": False}
keras = None  # the framework module, once load() has imported it


def load():
    global keras
    import keras


def version():
    return keras.__version__


def probe():
    from common import cpus
    backend = keras.backend.backend()
    info = {"backend": backend, "cuda": None, "threads": {"cpu_count": cpus.total()}}
    if backend == "theano":
        import theano
        info["backend_version"] = theano.__version__
        info["theano"] = {"device": theano.config.device, "floatX": theano.config.floatX,
                          "blas_ldflags": theano.config.blas.ldflags or None,
                          "compiledir": theano.config.compiledir}
    elif backend == "tensorflow":
        import tensorflow as tf
        info["backend_version"] = tf.__version__
    elif backend == "cntk":
        import cntk
        info["backend_version"] = cntk.__version__
    return info


def _theano_module():
    """frameworks/theano.py, loaded: Theano's own switches, shared, not copied."""
    from frameworks import theano as theano_module
    theano_module.load()
    return theano_module


def _sees_gpu(backend):
    """Whether the backend computes on a GPU (each fixes its device its own way)."""
    if backend == "theano":
        import theano
        return theano.config.device.startswith(("cuda", "gpu"))  # fixed when imported
    if backend == "tensorflow":
        from tensorflow.python.client import device_lib
        return any(d.device_type == "GPU" for d in device_lib.list_local_devices())
    if backend == "cntk":
        import cntk
        return any(d.type() == cntk.device.DeviceKind.GPU for d in cntk.device.all_devices())
    return False


def init(device, seed, variant):
    backend = keras.backend.backend()
    wanted = [v["env"]["KERAS_BACKEND"] for v in VARIANTS if v["name"] == variant]
    if wanted != [backend]:
        raise RuntimeError("variant %r needs the %s backend; this process imported keras with "
                           "%s: run it through run.py" % (variant, wanted[0] if wanted else "?",
                                                          backend))
    gpu = _sees_gpu(backend)
    if device == "gpu" and not gpu:
        raise RuntimeError("--device gpu, but Keras's %s backend sees no GPU: use --device cpu,"
                           " or a CUDA image (images/keras) on a host with a GPU" % backend)
    if device == "cpu" and gpu:
        raise RuntimeError("--device cpu, but Keras's %s backend computes on the GPU: run with "
                           "-e CUDA_VISIBLE_DEVICES= (tensorflow, cntk) or -e "
                           "THEANO_FLAGS=device=cpu (theano)" % backend)
    # Keras 2 draws its initial weights from numpy's generator (theano, cntk) or the graph's
    import numpy
    random.seed(seed)
    numpy.random.seed(seed)
    if backend == "tensorflow":
        import tensorflow as tf
        tf.set_random_seed(seed)
    if backend == "theano":  # the BLAS Theano's compiled code calls, in the BLAS probe too
        _theano_module().load_blas()
    DEVICE["gpu"] = gpu
    # the 2017 Keras(TF) RNN notebook ran CuDNNGRU on the GPU: TensorFlow backend only
    DEVICE["cudnn_gru"] = gpu and backend == "tensorflow"
    DEVICE["tuned"] = variant.endswith("-tuned")
    return {"backend": backend, "precision": {"dtype": keras.backend.floatx()},
            "gru": "CuDNNGRU" if DEVICE["cudnn_gru"] else "GRU"}


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    import numpy as np
    K = keras.backend
    if K.backend() == "cntk":  # Keras's CNTK functions take no variable updates: CNTK's own
        from frameworks import cntk as cntk_module
        cntk_module.load()
        return cntk_module.gemm(n)
    rng = np.random.RandomState(0)
    a = K.variable(rng.standard_normal((n, n)).astype(np.float32))
    b = K.variable(rng.standard_normal((n, n)).astype(np.float32))
    c = K.variable(np.zeros((n, n), dtype=np.float32))
    # the product goes into a variable: computed by the backend, never copied to the host
    step = K.function([], [], updates=[K.update(c, K.dot(a, b))])
    return (lambda: step([]), lambda out: None,
            "keras.backend.dot in a K.function (%s backend)" % K.backend())
