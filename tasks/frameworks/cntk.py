"""CNTK: what every CNTK task file shares.

Run here by images/cntk-2.7: CNTK 2.7 (its last release) on Python 2.7, the only Python its
wheels (cp27mu, cp35m, cp36m) have that this machine's Debian still ships; the 2017 image
(images/cntk: CNTK 2.4 GPU build, Python 3.5) runs the same files, kept to the API 2.4 and 2.7
share. These files, the runtime and the keras2 files run on Python 2.7 and 3.5+ (vermin checks
both: tests/tasks/test_tasks_static.py; `from __future__ import absolute_import`, or Python 2
would import tasks/*/cntk.py itself for `import cntk`). The host imports this module without
CNTK installed: cntk is imported by load().
"""
from __future__ import absolute_import, division, print_function
NAME = "cntk"
PACKAGES = ("cntk",)
VARIANTS = [
    {"name": "reference",
     "doc": "CNTK's defaults, NCHW; the GRU is cuDNN's optimized_rnnstack on a GPU",
     "env": {}, "row": "CNTK"},
    # CNTK 2.7's MKL (MKLML) runs a generic path on an AMD CPU unless told its AVX2 kernels are
    # fine there ({mkl_amd_cpu_type}: tasks/measure/blas.py; nothing set on Intel). Measured
    # (2-CPU AMD EPYC with AVX-512, Python 2.7, alternating rounds): GEMM 78/81 -> 202/207
    # GFLOP/s, the CNN 109/102 -> 166/203 img/s, ResNet-50 inference 5.2/5.2 -> 12.2/9.8, the
    # GRU 217/238 -> 473/262 sequences/s
    {"name": "tuned", "doc": "MKL's AVX2 kernels on an AMD CPU (MKL_DEBUG_CPU_TYPE=5)",
     "env": {"MKL_DEBUG_CPU_TYPE": "{mkl_amd_cpu_type}"}, "row": "CNTK",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "CNTK's CPU convolutions: its profiler (cntk.debugging, 20 steps of "
                    "64, 215 img/s; 2-CPU AMD EPYC, MKL's AVX2 path) puts the four "
                    "convolutions at 75 % of the step, forward and backward each about 100 "
                    "GFLOP/s (75 on the 32x32 layer) against MKL's GEMM at 205; the ReLUs' "
                    "forward 8 %, pooling 5 %, dropout 4 %",
                    "inference": "not profiled per node (CNTK's profiler times training "
                    "only): the whole pass runs at about 100 GFLOP/s (12.6 img/s, batch 32) "
                    "against MKL's GEMM at 205, as its CNN's convolutions do"}},
]
DEVICE = {"gpu": False}  # set by init(), read by the task files
C = None  # the framework module, once load() has imported it


def load():
    global C
    import cntk as C


def version():
    return C.__version__


def _gpus():
    return [d for d in C.device.all_devices() if d.type() == C.device.DeviceKind.GPU]


def probe():
    gpus = _gpus()
    info = {"gpus": len(gpus)}
    threads = getattr(C.cntk_py, "get_max_num_cpu_threads", None)
    if threads is not None:
        info["threads"] = {"cntk": threads()}
    properties = getattr(C.device, "get_gpu_properties", None)
    if gpus and properties is not None:
        gpu = properties(gpus[0])
        info["gpu"] = gpu.name
        info["gpu_compute_capability"] = "%d.%d" % (gpu.version_major, gpu.version_minor)
    return info


def init(device, seed, variant):
    gpus = _gpus()
    if device == "gpu" and not gpus:
        raise RuntimeError("--device gpu, but CNTK %s sees no CUDA GPU: use --device cpu or a "
                           "host with a GPU and the NVIDIA container runtime" % C.__version__)
    DEVICE["gpu"] = device == "gpu"
    chosen = C.device.gpu(gpus[0].id()) if DEVICE["gpu"] else C.device.cpu()
    if not C.device.try_set_default_device(chosen):
        raise RuntimeError("CNTK could not make %s its default device" % chosen)
    # one seed for every initialiser and dropout mask that is given none (CNTK's tutorials)
    C.cntk_py.set_fixed_random_seed(seed)
    # CNTK computes in fp32 here (its FP16 is opt-in; CUDA 9 GPUs have no TF32)
    return {"device": "GPU %d" % gpus[0].id() if DEVICE["gpu"] else "CPU",
            "precision": {"dtype": "float32"}}


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device. One operand is an input fed on every call: CNTK caches
    the value of a function of constants or parameters alone (measured: 5,800+ GFLOP/s from a
    second eval), so the n^2 copy in (1/n of the work) is part of the figure."""
    import numpy as np
    rng = np.random.RandomState(0)
    rows = rng.standard_normal((n, n)).astype(np.float32)
    x = C.input_variable((n,), np.float32)  # a batch of n rows: an n x n x n product
    b = C.constant(rng.standard_normal((n, n)).astype(np.float32))
    # the sum adds n^2 additions (uncounted, 1/n of the product) and saves copying n^2 out
    total = C.reduce_sum(C.times(x, b))
    return (lambda: total.eval({x: rows}), lambda out: None,
            "cntk.times of a fed input batch and a constant, through a reduce_sum")
