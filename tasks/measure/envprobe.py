"""What the run ran on: Python, numpy, CPU, threads and the settings that change speed.
The adapter's probe() adds what only the framework knows (its version, CUDA, cuDNN, GPU)."""
from __future__ import absolute_import, division, print_function
import os
import platform
import sys

import numpy as np

from common import cpus
from measure import blas

# Environment variables that change speed; every result records those that are set.
SPEED_SETTINGS = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE", "KMP_AFFINITY", "KMP_BLOCKTIME", "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "XLA_FLAGS", "JAX_PLATFORMS",
    "KERAS_BACKEND", "CUDA_VISIBLE_DEVICES", "CUDNN_BENCHMARK", "MXNET_CUDNN_AUTOTUNE_DEFAULT",
    "ONEDNN_DEFAULT_FPMATH_MODE", "TF_SET_ONEDNN_FPMATH_MODE", "OMP_WAIT_POLICY",
    "NVIDIA_TF32_OVERRIDE",
)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except (IOError, OSError):
        pass
    return platform.processor() or None


# CPU flags that decide which math kernels run (and whether a framework may use bf16 or int8
# matrix units on the CPU: AMX, AVX512_BF16), recorded in every result
MATH_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq",
              "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
              "amx_fp16")


def cpu_flags():
    return [f for f in MATH_FLAGS if f in blas.cpu_flags()]


def cpu_count():
    return cpus.available()


def probe(fw):
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": cpu_count(),
        "cpu_flags": cpu_flags(),
        "settings": dict((k, os.environ[k]) for k in SPEED_SETTINGS if k in os.environ),
        "framework_version": None, "cuda": None, "cudnn": None, "gpu": None,
        "gpu_compute_capability": None, "threads": {},
    }
    try:
        env["framework_version"] = fw.version()
        env.update(fw.probe())
    except Exception as e:  # the probe must never cost a result
        env["probe_error"] = "%s: %s" % (type(e).__name__, e)
    try:
        linked = blas.probe()
        env["blas"], env["openmp_threads"] = linked["blas"], linked["openmp"]
    except Exception as e:
        env["blas"], env["openmp_threads"] = [], {}
        env["blas_probe_error"] = "%s: %s" % (type(e).__name__, e)
    env["executable"] = sys.executable
    return env
