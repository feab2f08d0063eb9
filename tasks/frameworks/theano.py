"""Theano: what every Theano task file shares.

Raw Theano, no 2017 row of its own: the Lasagne(Theano) row is the lasagne adapter's
(frameworks/lasagne.py: 2017's Theano_Lasagne_CNN, the only program 2017 wrote on Theano). The
task files here write the layers Lasagne gives out in Theano (a few lines each), with Lasagne's
defaults (named where they are used), compiled by theano.function: the CNN beside Lasagne's,
and the RNN and ResNet-50 inference that 2017 never wrote in Lasagne. The lasagne adapter calls
this module's load, probe, init and gemm (Lasagne builds Theano graphs).

Theano fixes its device, float type and C compiler when it is imported: from THEANO_FLAGS and
the file THEANORC names (the images set device=cpu, floatX=float32, blas.ldflags=-lopenblas and a
compile cache under /tmp). The host imports this module without Theano installed.
"""
import os

NAME = "theano"
# the tasks whose tuned variants turn Theano's OpenMP on (measured below, VARIANTS)
OPENMP_TASKS = {"cnn": {"THEANO_FLAGS": "openmp=True"},
                "inference": {"THEANO_FLAGS": "openmp=True"}}
PACKAGES = ("theano", "pygpu")  # pygpu: the GPU backend (libgpuarray), 2017 image only
VARIANTS = [
    {"name": "reference", "doc": "Theano's C code linked to OpenBLAS, its default threads",
     "env": {}, "row": None},
    # OpenBLAS picks its kernel from the CPU it recognises: Debian bullseye's 0.3.13 takes a
    # recent AMD EPYC with AVX-512 for "Barcelona" (SSE only); the kernel matching the CPU's
    # flags made sgemm 4.7x faster there (measured: docs/frameworks.md, Theano)
    # Theano's OpenMP (THEANO_FLAGS openmp, off by default: configdefaults.py says it slowed
    # small ops) parallelises its im2col convolutions (CorrMM), pooling and large element-wise
    # ops. Measured (2-CPU AMD EPYC, 1,024 synthetic, alternating rounds): CNN 147/148 -> 218/240
    # img/s, ResNet-50 inference 11.7/13.5 -> 17.5/17.2 img/s, but the GRU 497/670 -> 440/525
    # sequences/s (its steps are small): on for the CNN and inference only (task_env; added
    # after a THEANO_FLAGS given with `dlbench bench -e`, runtime/adapters.py LIST_ENV)
    {"name": "tuned", "doc": "OpenBLAS's kernel set for this CPU's flags (OPENBLAS_CORETYPE); "
     "for the CNN and inference also Theano's OpenMP (THEANO_FLAGS=openmp=True)",
     "env": {"OPENBLAS_CORETYPE": "{openblas_coretype}"}, "task_env": OPENMP_TASKS, "row": None,
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "Theano's convolutions and max-pool gradient: profiled "
                    "(THEANO_FLAGS profile=True, OpenMP on; 2-CPU AMD EPYC, 1,024 synthetic, "
                    "237 img/s), MaxPoolGrad (a C loop per pooling window) 24 % of the step, "
                    "the convolutions (CorrMM: im2col and an OpenBLAS GEMM per image) 48 % at "
                    "about 180 GFLOP/s against OpenBLAS's 400, dropout's masks (mrg_uniform) "
                    "6 %",
                    "inference": "Theano's convolutions and its unfused batch-norms: profiled "
                    "(OpenMP on, 192 synthetic images, 18 img/s), CorrMM 78 % of the time at "
                    "about 200 GFLOP/s against OpenBLAS's 400, the batch-norm and ReLU "
                    "element-wise ops 20 %"}},
]
DEVICE = {"gpu": False, "seed": 0}  # set by init(), read by the task files
theano = None  # the framework module, once load() has imported it


def load():
    global theano
    import theano


def version():
    return theano.__version__


def probe():
    from common import cpus
    config = theano.config
    info = {"cuda": None,
            "device": config.device,
            "floatX": config.floatX,
            "cxx": config.cxx or None,  # empty: no C compiler, Theano runs Python code (slow)
            "blas_ldflags": config.blas.ldflags or None,  # empty: numpy's BLAS through Python
            "compiledir": config.compiledir,
            "threads": {"cpu_count": cpus.total(), "openmp": bool(config.openmp),
                        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}}
    if config.device.startswith("cuda"):
        import pygpu
        info["gpu"] = theano.gpuarray.type.get_context(None).devname
        info["pygpu"] = pygpu.__version__
    return info


def init(device, seed, variant):
    on_gpu = theano.config.device.startswith(("cuda", "gpu"))
    if device == "gpu" and not on_gpu:
        raise RuntimeError("--device gpu, but Theano %s was imported with device=%s (THEANO_FLAGS"
                           " / THEANORC set it before import): use --device cpu, or an image "
                           "whose Theano is set for CUDA (images/theano)"
                           % (theano.__version__, theano.config.device))
    if device == "cpu" and on_gpu:
        raise RuntimeError("--device cpu, but Theano was imported with device=%s: run with "
                           "-e THEANO_FLAGS=device=cpu" % theano.config.device)
    if not theano.config.cxx:
        raise RuntimeError("Theano found no C++ compiler (config.cxx is empty): it would run "
                           "its Python fallbacks, no benchmark; install g++ and python3-dev")
    # true fp32, as 2017's .theanorc (floatX = float32): the task files build float32 graphs
    theano.config.floatX = "float32"
    blas = load_blas()
    DEVICE["gpu"] = device == "gpu"
    DEVICE["seed"] = seed  # weight init (numpy) and dropout (MRG_RandomStreams) draw from it
    return {"device": theano.config.device,
            "blas_ldflags": theano.config.blas.ldflags or None, "blas_loaded": blas,
            "precision": {"dtype": "float32", "floatX": theano.config.floatX}}


def load_blas():
    """Load the libraries blas.ldflags links (-lopenblas) into this process now. Theano's
    compiled C modules load them on the first step; loaded before, the result's BLAS probe
    (measure/blas.py, run before the first step) reports the BLAS the graphs call, not only the
    copy numpy's wheel bundles. Returns the files loaded."""
    import ctypes
    import ctypes.util
    loaded = []
    for flag in (theano.config.blas.ldflags or "").split():
        path = ctypes.util.find_library(flag[2:]) if flag.startswith("-l") else None
        if path:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            loaded.append(path)
    return loaded


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    import numpy as np
    T = theano.tensor
    rng = np.random.RandomState(0)
    a = theano.shared(rng.standard_normal((n, n)).astype(np.float32))
    b = theano.shared(rng.standard_normal((n, n)).astype(np.float32))
    c = theano.shared(np.zeros((n, n), dtype=np.float32))
    # the product goes into a shared variable: computed on the device, never copied out
    step = theano.function([], [], updates=[(c, T.dot(a, b))])

    def wait(out):
        value = c.get_value(borrow=True, return_internal_type=True)
        if hasattr(value, "sync"):  # a GPU array (pygpu): wait for its kernels
            value.sync()
    return step, wait, "theano.function(T.dot) into a shared variable, device %s" % (
        theano.config.device)
