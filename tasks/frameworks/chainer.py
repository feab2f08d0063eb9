"""Chainer: what every Chainer task file shares.

One file serves the 2017 image (Chainer 3.4.0 + CuPy 2.4.0, Python 3.5) and Chainer 7.8.1 (its
last release), so it keeps to the API both accept: chainer.backends.cuda (Chainer >= 3.0),
chainer.using_config and chainer.config (>= 2.0), global_config.autotune (>= 3.0). On the CPU
Chainer runs its own NumPy code, so numpy's BLAS (an OpenBLAS in every numpy wheel) does the
matrix work: the tuned variant gives that OpenBLAS the thread count and the kernel for this CPU
(an OpenBLAS older than the CPU can fall back to a slow generic kernel); the reference variant
leaves OpenBLAS to its own defaults. tasks/measure/blas.py records what ran. On a GPU, Chainer
runs CuPy and cuDNN, switched on as the 2017 Chainer_CNN notebook did (autotune). The host
imports this module to discover the framework without Chainer installed: chainer is imported
by load(), which run.py calls after the variant's environment is set.
"""
import os

NAME = "chainer"
# CuPy is reached through chainer.backends.cuda, never imported here; PIL (Pillow) reads the
# densenet task's PNGs, as chainer.datasets.ImageDataset does
PACKAGES = ("chainer", "PIL")
DISTRIBUTIONS = ("chainer",)  # the engine tests' pip freeze check: the framework's own
VARIANTS = [
    {"name": "reference", "doc": "Chainer's defaults (numpy's OpenBLAS as it starts), NCHW",
     "env": {}, "row": "Chainer"},
    {"name": "tuned", "doc": "OpenBLAS told this process's CPU count and this CPU's kernel",
     "env": {"OMP_NUM_THREADS": "{cpu_count}", "OPENBLAS_CORETYPE": "{openblas_coretype}"},
     "row": "Chainer",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "Chainer's CPU convolutions are im2col and numpy's GEMM; iDeep, its "
                    "one faster CPU path, has wheels for Python <= 3.7 only (ideep4py "
                    "2.0.0.post3: cp27-cp37, not this image's 3.11), and in a Python 2.7 build "
                    "of Chainer 6.7 ran the CNN at 29 img/s against numpy's 48-62 (its "
                    "convolutions fell back to im2col and BLAS as well, MKLDNN_VERBOSE "
                    "'gemm:blas'; 2-CPU AMD EPYC)",
                    "inference": "the same im2col convolutions: per function (TimerHook, batch "
                    "32, 5.4 img/s; 2-CPU AMD EPYC), Convolution2D 71 % of the pass at about "
                    "63 GFLOP/s, FixedBatchNormalization 15 %, the stem's max pooling 10 %"}},
]
# densenet on N devices: 2017's Chainer_MultiGPU kept the one-device learning rate ("if
# MULTI_GPU: pass  # Seems both batch and LR are scaled", cell 8) while the batch grew N times
# (one BATCHSIZE iterator per GPU); every other MultiGPU notebook multiplied both
LR_SCALES_WITH_DEVICES = False
DEVICE = {"gpu": False}  # set by init(), read by the task files
chainer = None  # the framework module, once load() has imported it


def load():
    global chainer
    # Chainer's BLAS is numpy's: run.py sets the variant's OMP_NUM_THREADS / OPENBLAS_CORETYPE
    # before it imports numpy (runtime/adapters.set_env_early), so numpy's OpenBLAS starts with
    # them; tasks/measure/blas.py records the kernel and threads that ran.
    #
    # True fp32, as the 2017 K80/P100 ran (they have no TF32): cuDNN 8+ lets its default math
    # use TF32 for fp32 convolutions on Ampere and newer GPUs, and CuPy keeps that default; this
    # variable, read by the CUDA libraries, turns TF32 off in cuDNN and cuBLAS. Set before CuPy
    # is imported; a value the user set is kept (and recorded).
    os.environ.setdefault("NVIDIA_TF32_OVERRIDE", "0")
    import chainer
    import chainer.backends.cuda  # noqa: F401  (chainer.backends.cuda: CuPy, if importable)


def version():
    return chainer.__version__


def _cuda():
    """chainer.backends.cuda: CuPy's wrapper (available is False without CuPy or a GPU)."""
    return chainer.backends.cuda


def probe():
    from common import cpus
    info = {"cuda": None, "cupy": None, "threads": {"cpu_count": cpus.total()},
            "config": {"use_cudnn": chainer.config.use_cudnn,
                       "use_ideep": getattr(chainer.config, "use_ideep", None),
                       "autotune": getattr(chainer.config, "autotune", None)}}
    if _cuda().available:
        cupy = _cuda().cupy
        info["cupy"] = cupy.__version__
        try:
            info["cuda"] = str(cupy.cuda.runtime.runtimeGetVersion())
        except Exception:
            pass
        info["cudnn_enabled"] = bool(_cuda().cudnn_enabled)
        if _cuda().cudnn_enabled:
            info["cudnn"] = str(_cuda().cuda.cudnn.getVersion())
        if gpu_count():
            cc = str(cupy.cuda.Device(0).compute_capability)  # "60", "90", "100"
            info["gpu_compute_capability"] = cc[:-1] + "." + cc[-1]
            properties = getattr(cupy.cuda.runtime, "getDeviceProperties", None)  # CuPy >= 6
            if properties is not None:
                name = properties(0).get("name")
                info["gpu"] = name.decode() if isinstance(name, bytes) else name
    return info


def init(device, seed, variant):
    import numpy
    if device == "gpu":
        if not _cuda().available:
            raise RuntimeError("--device gpu, but Chainer %s has no CuPy: use --device cpu, or "
                               "the image built with CuPy (CHAINER_BUILD=cuda)"
                               % chainer.__version__)
        if not gpu_count():
            raise RuntimeError("--device gpu, but CuPy sees no CUDA GPU: use --device cpu or a "
                               "host with a GPU and the NVIDIA container runtime")
    numpy.random.seed(seed)  # Chainer's initialisers and its CPU dropout draw from numpy
    DEVICE["gpu"] = device == "gpu"
    if DEVICE["gpu"]:
        _cuda().get_device_from_id(0).use()
        _cuda().cupy.random.seed(seed)  # dropout masks on the GPU
        # As 2017's Chainer_CNN notebook: cuDNN where Chainer has it, autotuned convolutions.
        chainer.global_config.use_cudnn = "auto"
        chainer.global_config.autotune = True
    return {"device": "gpu:0" if DEVICE["gpu"] else "cpu",
            "use_cudnn": chainer.global_config.use_cudnn,
            "autotune": chainer.global_config.autotune,
            "precision": _true_fp32()}


def gpu_count():
    if not _cuda().available:
        return 0
    try:
        return _cuda().cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy without a driver raises its own CUDARuntimeError
        return 0


def _true_fp32():
    """fp32 everywhere, as 2017: the task files make float32 arrays and Chainer computes in the
    arrays' dtype (its dtype config, Chainer >= 4, stays float32); on a GPU, TF32 is off unless
    NVIDIA_TF32_OVERRIDE was set to something else than load()'s "0". Returns what is in
    effect."""
    override = os.environ.get("NVIDIA_TF32_OVERRIDE")
    return {"dtype": str(getattr(chainer.config, "dtype", "float32")),
            "tf32": bool(DEVICE["gpu"] and override != "0"),
            "nvidia_tf32_override": override}


def to_device(array):
    """A numpy array on the device the task runs on (the host-to-device copy on a GPU)."""
    return _cuda().to_gpu(array) if DEVICE["gpu"] else array


def to_host(array):
    """A device array back as numpy."""
    return _cuda().to_cpu(array)


def synchronize():
    if DEVICE["gpu"]:
        _cuda().cupy.cuda.Stream.null.synchronize()


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    import numpy as np
    import chainer.functions as F
    rng = np.random.RandomState(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    if DEVICE["gpu"]:
        cupy = _cuda().cupy
        a, b = cupy.asarray(a), cupy.asarray(b)
        return (lambda: F.matmul(a, b), lambda out: cupy.cuda.Device().synchronize(),
                "chainer.functions.matmul (CuPy, cuBLAS)")
    return (lambda: F.matmul(a, b), lambda out: None,
            "chainer.functions.matmul (numpy's BLAS on the CPU, as Chainer's own layers)")


def set_param(param, value, name):
    """Model equivalence (import_params): one canonical array into a Chainer parameter, on the
    run's device; a shape that differs is one clear error naming the canonical entry."""
    import numpy as np
    value = np.asarray(value, dtype=np.float32)
    if value.shape != param.data.shape:
        raise ValueError("%s: shape %s, Chainer's is %s" % (name, value.shape, param.data.shape))
    param.data[...] = to_device(value)
