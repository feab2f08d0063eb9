"""The BLAS and OpenMP libraries this process runs, asked inside it, never guessed.

Old numpy and framework wheels bundle their own OpenBLAS, which can misdetect a CPU newer than
itself and fall back to a slow generic kernel; MXNet and Paddle use one core unless OMP_NUM_THREADS
is set. So every result records, for each BLAS library loaded into the process (found in
/proc/self/maps, asked through its own C API with ctypes): its kind, file, version/config string,
the kernel (OpenBLAS core name) and thread count; and what OpenMP runtimes report.

A variant's `env` may hold three placeholders, expanded when the adapter starts
(runtime/adapters.py):
  {cpu_count}          the CPUs this process may run on (its affinity mask)
  {openblas_coretype}  the OpenBLAS kernel for this CPU's flags (SkylakeX with AVX-512 F, BW, VL
                       and DQ; Haswell with AVX2 and FMA; Sandybridge with AVX)
  {mkl_amd_cpu_type}   "5" on an AMD CPU with AVX2, else "": MKL_DEBUG_CPU_TYPE=5 makes MKL up to
                       2020.0 run its AVX2 kernels there, which it keeps for Intel CPUs otherwise
                       (later MKLs ignore the variable)
A variable whose value expands to "" is not set.
"""
from __future__ import absolute_import, division, print_function
import ctypes
import os

from common import cpus

# OpenBLAS exports its API with a prefix and/or suffix in some builds: numpy >= 1.22 vendors
# a 64-bit-integer OpenBLAS (suffix 64_), numpy 2 and scipy vendor scipy-openblas (prefix scipy_).
_OPENBLAS_NAMES = [(pre, suf) for pre in ("", "scipy_") for suf in ("", "64_")]
_OMP_LIBS = ("libgomp", "libiomp5", "libomp")


def mapped_libraries(maps="/proc/self/maps"):
    """The shared objects mapped into this process, in load order, each once."""
    seen = []
    try:
        with open(maps) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and ".so" in parts[5] and parts[5] not in seen:
                    seen.append(parts[5])
    except (IOError, OSError):
        pass
    return seen


def _open(path):
    """The already-loaded library (never loads one anew), or None."""
    try:
        # RTLD_NOLOAD | RTLD_LAZY (Linux's 4 | 1; os has the names from Python 3.3)
        return ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 4) | getattr(os, "RTLD_LAZY", 1))
    except (OSError, AttributeError):
        return None


def _symbol(lib, name, restype):
    try:
        fn = getattr(lib, name)
    except AttributeError:
        return None
    fn.restype = restype
    fn.argtypes = []
    return fn


def _openblas(lib, path):
    for pre, suf in _OPENBLAS_NAMES:
        config = _symbol(lib, pre + "openblas_get_config" + suf, ctypes.c_char_p)
        if config is None:
            continue
        info = {"kind": "openblas", "library": os.path.basename(path),
                "config": _text(config()), "_entry": _defined_in(config)}
        core = _symbol(lib, pre + "openblas_get_corename" + suf, ctypes.c_char_p)
        threads = _symbol(lib, pre + "openblas_get_num_threads" + suf, ctypes.c_int)
        parallel = _symbol(lib, pre + "openblas_get_parallel" + suf, ctypes.c_int)
        info["kernel"] = _text(core()) if core else None
        info["threads"] = threads() if threads else None
        if parallel:
            info["parallel"] = {0: "sequential", 1: "pthreads", 2: "openmp"}.get(parallel())
        words = (info["config"] or "").split()
        info["version"] = words[1] if len(words) > 1 and words[0] == "OpenBLAS" else None
        return info
    return None


def _mkl(lib, path):
    version = getattr(lib, "mkl_get_version_string", None)
    if version is None:
        return None
    buf = ctypes.create_string_buffer(256)
    version.argtypes = [ctypes.c_char_p, ctypes.c_int]
    version.restype = None
    version(buf, len(buf))
    threads = _symbol(lib, "mkl_get_max_threads", ctypes.c_int)
    return {"kind": "mkl", "library": os.path.basename(path), "config": _text(buf.value),
            "version": None, "kernel": None, "threads": threads() if threads else None,
            "_entry": _defined_in(version)}


def _blis(lib, path):
    version = _symbol(lib, "bli_info_get_version_str", ctypes.c_char_p)
    if version is None:
        return None
    return {"kind": "blis", "library": os.path.basename(path), "config": None,
            "version": _text(version()), "kernel": None, "threads": None,
            "_entry": _defined_in(version)}


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _defined_in(fn):
    """(address, file) of a C function: a library asked by name also answers for the
    libraries it links to, so two hits at one address are one library, named by dladdr."""
    address = ctypes.cast(fn, ctypes.c_void_p).value
    try:
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        info = _DlInfo()
        if dladdr(address, ctypes.byref(info)) and info.dli_fname:
            return address, _text(info.dli_fname)
    except (OSError, AttributeError):
        pass
    return address, None


def _text(raw):
    if raw is None:
        return None
    return raw.decode("ascii", "replace").strip() if isinstance(raw, bytes) else str(raw)


def probe():
    """{"blas": [one dict per BLAS library found], "openmp": {library: max threads}}.
    A framework that links its BLAS statically into its own library (MXNet does) is found too:
    every loaded library is asked for the BLAS entry points."""
    found, omp, seen = [], {}, set()
    for path in mapped_libraries():
        lib = _open(path)
        if lib is None:
            continue
        for ask in (_openblas, _mkl, _blis):
            info = ask(lib, path)
            if info is not None:
                address, where = info.pop("_entry")
                if address not in seen:
                    seen.add(address)
                    info["library"] = os.path.basename(where or path)
                    found.append(info)
                break
        name = os.path.basename(path)
        if name.startswith(_OMP_LIBS):
            threads = _symbol(lib, "omp_get_max_threads", ctypes.c_int)
            if threads is not None:
                omp[name] = threads()
    return {"blas": found, "openmp": omp}


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except (IOError, OSError):
        pass
    return set()


AVX512_SKYLAKEX = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}  # what OpenBLAS's kernel uses


def openblas_coretype(flags):
    """The OpenBLAS kernel for these CPU flags ("" when none is known to match): SkylakeX on
    AVX-512 CPUs, Haswell with AVX2 + FMA, Sandybridge with AVX. An OpenBLAS built without the
    SkylakeX kernel runs Haswell when asked for it (MXNet 1.9.1's bundled 0.3.13, probed), so
    asking is never worse than Haswell; unasked, old builds took an AVX-512 EPYC for Barcelona
    (no AVX). Measured on a 2-CPU AMD EPYC with AVX-512, the image's own fp32 GEMM probe:
    Theano (bullseye's OpenBLAS 0.3.13) 385 GFLOP/s with SkylakeX, 215 with Haswell, 93 unasked
    (Barcelona), 58 asked for Cooperlake (a name 0.3.13 lacks: it falls back to its detection);
    Chainer (numpy 1.26's OpenBLAS 0.3.23, which detects the CPU itself) 414 SkylakeX, 416
    unasked, 211 Haswell."""
    if AVX512_SKYLAKEX <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    if "avx" in flags:
        return "Sandybridge"
    return ""


def cpu_vendor(cpuinfo="/proc/cpuinfo"):
    """The CPU's vendor string (GenuineIntel, AuthenticAMD), "" when unknown."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except (IOError, OSError):
        pass
    return ""


def mkl_amd_cpu_type(vendor, flags):
    """MKL_DEBUG_CPU_TYPE for this CPU: "5" (MKL's AVX2 code path) on an AMD CPU with AVX2 and
    FMA, "" elsewhere (on an Intel CPU MKL picks its best path itself, AVX-512 included, which
    "5" would cap at AVX2). MKL up to 2020.0 dispatches on the vendor, not the flags: on AMD it
    ran a generic SSE path. Measured on a 2-CPU AMD EPYC with AVX-512, each image's own fp32
    GEMM probe: Caffe2 (torch 1.8.1's MKL 2020.0.0) 80/81 GFLOP/s unset, 215/218 with 5; CNTK
    2.7 (its MKLML) 78/81 unset, 202/207 with 5."""
    if vendor == "AuthenticAMD" and {"avx2", "fma"} <= flags:
        return "5"
    return ""


def affinity_count():
    return cpus.available()


def expand(env, flags=None, cpus=None, vendor=None):
    """A variant's env with the placeholders filled in for this machine; "" drops the variable."""
    flags = cpu_flags() if flags is None else flags
    vendor = cpu_vendor() if vendor is None else vendor
    values = {"cpu_count": str(cpus if cpus is not None else affinity_count()),
              "openblas_coretype": openblas_coretype(flags),
              "mkl_amd_cpu_type": mkl_amd_cpu_type(vendor, flags)}
    out = {}
    for key, value in env.items():
        value = value.format(**values) if "{" in value else value
        if value != "":
            out[key] = value
    return out
