"""TensorFlow 2: what every TensorFlow task file shares.

The host imports this module to discover the framework without TensorFlow installed:
tensorflow is imported by load(), which run.py calls after the variant's environment is set.
"""
import os

NAME = "tensorflow"
PACKAGES = ("tensorflow",)
# tuned: TensorFlow's oneDNN CPU kernels, read when tensorflow is imported. TF >= 2.9 turns them
# on by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX (TF 2.9 release notes); on
# others, such as an AVX2-only EPYC, the default is off. (XLA was tried and was slower here.)
VARIANTS = [
    {"name": "reference", "doc": "TensorFlow's defaults (tf.function), NHWC",
     "env": {}, "row": "Tensorflow"},
    {"name": "tuned", "doc": "oneDNN CPU kernels on",
     "env": {"TF_ENABLE_ONEDNN_OPTS": "1"}, "row": "Tensorflow",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "TensorFlow's oneDNN convolutions on the CNN's four layers ran forward "
                           "and both gradients at 300-347 GFLOP/s (81-94 % of a 370-410 peak; "
                           "tensorflow-2.21, 2-CPU AMD EPYC), the whole step at 56-61 % (570 and "
                           "621 img/s, one bench, two repeats): the rest of the step (pooling, "
                           "dropout, ReLU, the optimizer; not profiled per op) makes the "
                           "difference"}},
    # a GPU math mode the 2017 K80/P100 did not have: never beside a 2017 (fp32) number. Mixed
    # precision is TensorFlow's Keras policy: the keras3 adapter's *-mixed-bf16 variants have it
    {"name": "tf32", "doc": "TF32 tensor-core math in convolutions and matmuls (Ampere and "
     "newer GPUs)", "env": {}, "devices": ["gpu"], "row": None},
]
# layout: the task file's image layout on this device, set by runtime/adapters.py start
DEVICE = {"gpu": False, "layout": "NHWC"}
# what could switch oneDNN to bf16 fast math on the CPU (unset: strict fp32), recorded as set
FPMATH_ENV = ("ONEDNN_DEFAULT_FPMATH_MODE", "TF_SET_ONEDNN_FPMATH_MODE")
tf = None


def load():
    global tf
    import tensorflow as tf


def version():
    return tf.__version__


def probe():
    build = tf.sysconfig.get_build_info()
    info = {"cuda": build.get("cuda_version"), "cudnn": build.get("cudnn_version"),
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}}
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        info["gpu"] = details.get("device_name")
        if details.get("compute_capability"):
            info["gpu_compute_capability"] = "%d.%d" % details["compute_capability"]
    return info


def init(device, seed, variant):
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise RuntimeError("--device gpu, but TensorFlow %s sees no CUDA GPU: use --device cpu, "
                           "the CUDA build of the image, or a host with a GPU and the NVIDIA "
                           "container runtime" % tf.__version__)
    if device == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
    onednn = onednn_on()
    if variant == "tuned" and onednn is False:
        raise RuntimeError("variant tuned: tensorflow was imported before TF_ENABLE_ONEDNN_OPTS "
                           "was set; run it through run.py")
    tf.random.set_seed(seed)
    DEVICE["gpu"] = device == "gpu"
    return {"onednn": onednn, "precision": tf32() if variant == "tf32" else true_fp32()}


def true_fp32():
    """Pin true fp32, as the 2017 K80/P100 ran: TensorFlow >= 2.4 uses TF32 on Ampere and newer
    GPUs by default. On the CPU, oneDNN's bf16 fast math stays off unless one of FPMATH_ENV asks
    for it (recorded). Returns what is in effect."""
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return {"dtype": "float32",
            "tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
            "onednn_fpmath_env": dict((k, os.environ.get(k)) for k in FPMATH_ENV)}


def tf32():
    """TF32 on (variant tf32; TensorFlow's default on Ampere and newer GPUs)."""
    tf.config.experimental.enable_tensor_float_32_execution(True)
    return {"dtype": "float32 (TF32 math)",
            "tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
            "onednn_fpmath_env": dict((k, os.environ.get(k)) for k in FPMATH_ENV)}


def onednn_on():
    """Whether this process runs TensorFlow's oneDNN kernels (None where TF cannot say)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    import numpy as np
    rng = np.random.RandomState(0)
    with tf.device("/GPU:0" if DEVICE["gpu"] else "/CPU:0"):
        a = tf.constant(rng.standard_normal((n, n)).astype(np.float32))
        b = tf.constant(rng.standard_normal((n, n)).astype(np.float32))
    # eager: a GPU kernel runs asynchronously; the host copy of one element waits for it
    return (lambda: tf.linalg.matmul(a, b), lambda out: out[:1, :1].numpy(),
            "tf.linalg.matmul (eager) on %s" % ("GPU:0" if DEVICE["gpu"] else "CPU:0"))
