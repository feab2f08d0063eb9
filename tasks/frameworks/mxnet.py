"""MXNet: what every MXNet task file shares. Two APIs, as the 2017 benchmark ran MXNet twice.

  module  the symbolic API: a network of mx.sym operators trained by mx.mod.Module
          (notebooks MXNet_CNN, MXNet_RNN, MXNet_Inference), the MXNet(Module) rows;
  gluon   Gluon blocks, hybridized (notebooks Gluon_CNN, Gluon_RNN, Gluon_Inference), the
          MXNet(Gluon) rows.

Each task file keeps both paths side by side; build_model picks one by DEVICE["api"], which
init() sets from the variant. The -tuned variants set the OpenMP thread count (MXNet's CPU
operators are OpenMP loops; without OMP_NUM_THREADS MXNet 1.x on x86 uses half the CPUs), a
passive OpenMP wait policy, and the OpenBLAS kernel: the OpenBLAS inside older builds may not
recognise a newer CPU and fall back to a slow generic kernel (0.3.13 in MXNet 1.9's wheel picks
"Barcelona" on an AVX-512 EPYC). The reference variants run
MXNet's defaults; every result records what ran (env.blas, env.threads).

One file serves the 2017 image (MXNet 0.12.1, Python 3.5) and MXNet 1.9, so it keeps to the API
both accept. The host imports this module without MXNet: mxnet is imported by load().
"""
import ctypes
import os

NAME = "mxnet"
PACKAGES = ("mxnet",)
# tuned: one OpenMP thread per CPU this process may use, the OpenBLAS kernel for this CPU, and
# OpenMP threads that sleep instead of spinning between parallel regions: with spinning (GNU
# OpenMP's default), two threads on a 2-CPU machine shared with other work trained the CNN at
# 15 img/s against 141 with PASSIVE (gluon-tuned, 320 synthetic images, load average 17).
# {openblas_coretype} is SkylakeX on an AVX-512 CPU, Haswell on AVX2 (tasks/measure/blas.py):
# the OpenBLAS 0.3.13 in MXNet 1.9's wheel, asked for SkylakeX on an AVX-512 EPYC, runs Haswell
# (probed in the container); unasked, it picked the generic "Barcelona". On a CPU without AVX2
# no kernel is set.
_TUNED_ENV = {"OMP_NUM_THREADS": "{cpu_count}", "OPENBLAS_CORETYPE": "{openblas_coretype}",
              "OMP_WAIT_POLICY": "PASSIVE"}
# what holds the tuned CNN below the CPU's peak, measured (shown in the report's footnote)
_CNN_LIMIT = ("the backward convolutions: profiled per operator (module-tuned, "
              "MXNET_EXEC_BULK_EXEC_TRAIN=0; 2-CPU AMD EPYC), _backward_Convolution took 129 ms a "
              "step and Convolution 43 ms, about 115 GFLOP/s backward against 175 forward, on the "
              "wheel's oneDNN (MKLDNN subgraph backend on)")
_INFERENCE_LIMIT = ("the convolutions: MXNet's oneDNN subgraph backend already fuses them with "
                    "the batch-norms and ReLUs; per operator (module-tuned, batch 32, "
                    "MXNET_EXEC_BULK_EXEC_INFERENCE=0) the fused convolutions took 93 % of the "
                    "pass at about 330 GFLOP/s, 40 img/s in that run; in one bench beside "
                    "TensorFlow 31.3 img/s against 37.7 (tuned) and 41.9 (graph), a gap "
                    "within the 2-CPU AMD EPYC's two speeds")
VARIANTS = [
    {"name": "module", "doc": "symbolic API, mx.mod.Module; MXNet's default threads and BLAS",
     "env": {}, "row": "MXNet(Module)"},
    {"name": "gluon", "doc": "Gluon HybridBlocks, hybridized; MXNet's default threads and BLAS",
     "env": {}, "row": "MXNet(Gluon)"},
    {"name": "module-tuned", "doc": "module; OpenMP threads = CPUs (passive), OpenBLAS kernel "
     "set; no per-batch accuracy update, the RNN time-major (TNC)",
     "env": dict(_TUNED_ENV), "row": "MXNet(Module)",
     "cpu_limits": {"cnn": _CNN_LIMIT, "inference": _INFERENCE_LIMIT}},
    {"name": "gluon-tuned", "doc": "gluon; OpenMP threads = CPUs (passive), OpenBLAS kernel "
     "set; the RNN hybridized and time-major (TNC)",
     "env": dict(_TUNED_ENV), "row": "MXNet(Gluon)",
     "cpu_limits": {"cnn": _CNN_LIMIT, "inference": _INFERENCE_LIMIT}},
]
# set by init(), read by the task files: which API builds the model, where it runs, and whether
# the program is 2017's (the reference variants) or its faster forms (the -tuned variants)
DEVICE = {"gpu": False, "api": "module", "ctx": None, "tuned": False}
# knobs that change MXNet's speed, recorded as set (unset: the default)
MXNET_ENV = ("OMP_WAIT_POLICY", "MXNET_ENGINE_TYPE", "MXNET_CPU_WORKER_NTHREADS",
             "MXNET_CUDNN_AUTOTUNE_DEFAULT", "MXNET_EXEC_BULK_EXEC_TRAIN", "MXNET_MKLDNN_ENABLED",
             "NVIDIA_TF32_OVERRIDE")
mx = None  # the framework module, once load() has imported it


def load():
    global mx
    # true fp32, as the 2017 K80/P100 ran: cuDNN 8 may use TF32 for fp32 convolutions on
    # Ampere and newer GPUs; this switch, read when the CUDA libraries start, forbids it
    os.environ["NVIDIA_TF32_OVERRIDE"] = "0"
    import mxnet as mx


def version():
    return mx.__version__


def probe():
    info = {"threads": {"mxnet_operators": _mxnet_omp_threads(),
                        "omp_max_threads": _omp_max_threads(), "cpu_count": _cpu_count()},
            "mxnet_env": dict((k, os.environ[k]) for k in MXNET_ENV if k in os.environ),
            "cuda": None, "cudnn": None}
    runtime = getattr(mx, "runtime", None)  # MXNet >= 1.5
    if runtime is not None:
        features = runtime.Features()
        info["features"] = sorted(name for name in features if features.is_enabled(name))
    cuda, cudnn = _loaded_version("libcudart", "cudaRuntimeGetVersion", True), \
        _loaded_version("libcudnn", "cudnnGetVersion", False)
    if cuda:
        info["cuda"] = "%d.%d" % (cuda // 1000, cuda % 1000 // 10)
    if cudnn:
        info["cudnn"] = str(cudnn)
    if DEVICE["gpu"]:
        info["gpu"] = _nvidia_smi_name()
    return info


def init(device, seed, variant):
    api = variant.split("-")[0]
    if api not in ("module", "gluon"):
        raise RuntimeError("variant %r: the mxnet adapter's variants are %s"
                           % (variant, ", ".join(v["name"] for v in VARIANTS)))
    if device == "gpu":
        if gpu_count() < 1:
            raise RuntimeError("--device gpu, but MXNet %s sees no CUDA GPU: use --device cpu, "
                               "the CUDA build of the image (mxnet-cu*), or a host with a GPU "
                               "and the NVIDIA container runtime" % mx.__version__)
        # cuDNN autotune: try the convolution algorithms once, keep the fastest (1: MXNet's
        # default, which the 2017 notebooks ran with); read when an operator is created
        os.environ.setdefault("MXNET_CUDNN_AUTOTUNE_DEFAULT", "1")
    DEVICE["gpu"] = device == "gpu"
    DEVICE["api"] = api
    DEVICE["tuned"] = variant.endswith("-tuned")
    DEVICE["ctx"] = mx.gpu(0) if DEVICE["gpu"] else mx.cpu()
    mx.random.seed(seed)
    import numpy as np
    np.random.seed(seed)  # MXNet's Module shuffles nothing here, but its initialisers may use it
    return {"api": api, "context": str(DEVICE["ctx"]), "program": "tuned" if DEVICE["tuned"]
            else "2017's (MXNet_CNN / MXNet_RNN / Gluon_CNN / Gluon_RNN)",
            "cudnn_autotune": os.environ.get("MXNET_CUDNN_AUTOTUNE_DEFAULT"),
            "precision": {"dtype": "float32",
                          "tf32": os.environ.get("NVIDIA_TF32_OVERRIDE") != "0",
                          "nvidia_tf32_override": os.environ.get("NVIDIA_TF32_OVERRIDE")}}


def _cpu_count():
    from common import cpus
    return cpus.available()


def gpu_count():
    count = getattr(getattr(mx, "context", None), "num_gpus", None)  # MXNet >= 1.1
    if count is not None:
        try:
            return count()
        except mx.base.MXNetError:
            return 0
    try:  # MXNet 0.12: allocate on the first GPU
        mx.nd.zeros((1,), ctx=mx.gpu(0)).asnumpy()
        return 1
    except mx.base.MXNetError:
        return 0


def _loaded_libraries():
    try:
        with open("/proc/self/maps") as f:
            return sorted(set(line.split()[-1] for line in f if ".so" in line))
    except (IOError, OSError):
        return []


def _loaded_version(stem, function, by_reference):
    """The version a CUDA library already loaded in this process reports (None if none is)."""
    for path in _loaded_libraries():
        if os.path.basename(path).startswith(stem):
            try:
                lib = ctypes.CDLL(path)
                if by_reference:
                    value = ctypes.c_int(0)
                    if getattr(lib, function)(ctypes.byref(value)) == 0:
                        return value.value
                else:
                    getattr(lib, function).restype = ctypes.c_size_t
                    return int(getattr(lib, function)())
            except (OSError, AttributeError):
                pass
    return None


def _mxnet_omp_threads():
    """The OpenMP threads MXNet's CPU operators use, as its engine decides them
    (engine::OpenMP::GetRecommendedOMPThreadCount, exported by libmxnet >= 1.0; None where
    absent). Without OMP_NUM_THREADS, MXNet 1.x on x86 takes half the processors (it assumes
    two hyper-threads per core): one thread on a 2-CPU machine."""
    lib = mx.base._LIB
    try:
        get = lib._ZN5mxnet6engine6OpenMP3GetEv
        count = lib._ZNK5mxnet6engine6OpenMP28GetRecommendedOMPThreadCountEb
    except AttributeError:
        return None
    get.restype = ctypes.c_void_p
    count.restype = ctypes.c_int
    count.argtypes = [ctypes.c_void_p, ctypes.c_bool]
    return int(count(get(), True))  # the C++ method, called with its object as first argument


def _omp_max_threads():
    """omp_get_max_threads() of the OpenMP runtime MXNet loaded: the threads its CPU operators
    use (None when no OpenMP runtime is loaded)."""
    for path in _loaded_libraries():
        name = os.path.basename(path)
        if name.startswith(("libgomp", "libiomp", "libomp")):
            try:
                return int(ctypes.CDLL(path).omp_get_max_threads())
            except (OSError, AttributeError):
                pass
    return None


def _nvidia_smi_name():
    import subprocess
    try:
        out = subprocess.check_output(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader",
                                       "-i", "0"])
        return out.decode().strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def gemm(n):
    """The peak probe's products (measure/peak.py): [(matmul, wait, method)] for an n x n float32
    matrix product on the run's device, by each fp32 GEMM path MXNet's layers take. mx.nd.dot
    runs the BLAS MXNet links (MXNet 1.9's wheel: OpenBLAS 0.3.13, on an AVX-512 EPYC its
    generic "Barcelona" kernel unless a tuned variant sets OPENBLAS_CORETYPE); FullyConnected and
    Convolution run oneDNN (MKLDNN) where the build has it (env.features lists MKLDNN), on the
    OpenMP threads MXNet's operators use, as the CNN's layers do: measured against dot alone,
    MXNet's CNN read MFU 178-190 %. The convolution is 1x1 over a (1, n, 32, n/32) input: n
    output channels from n input channels at n positions, 2 n^3 FLOPs; without oneDNN both fall
    back to the same BLAS as dot."""
    import numpy as np
    rng = np.random.RandomState(0)
    ctx = DEVICE["ctx"]
    a = mx.nd.array(rng.standard_normal((n, n)).astype(np.float32), ctx=ctx)
    b = mx.nd.array(rng.standard_normal((n, n)).astype(np.float32), ctx=ctx)
    image = a.reshape((1, n, 32, n // 32))  # n channels x n positions (n: a multiple of 32)
    kernel = b.reshape((n, n, 1, 1))

    def wait(out):  # MXNet's engine is asynchronous on every device
        out.wait_to_read()
    return [(lambda: mx.nd.dot(a, b), wait, "mx.nd.dot on %s, wait_to_read" % ctx),
            (lambda: mx.nd.FullyConnected(data=a, weight=b, num_hidden=n, no_bias=True), wait,
             "mx.nd.FullyConnected (oneDNN inner product where built with MKLDNN) on %s" % ctx),
            (lambda: mx.nd.Convolution(data=image, weight=kernel, kernel=(1, 1), num_filter=n,
                                       no_bias=True), wait,
             "mx.nd.Convolution 1x1 (oneDNN where built with MKLDNN) on %s" % ctx)]
