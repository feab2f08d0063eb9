"""The peak probe: the device's fp32 matrix-multiply rate, measured in the run's own process.

run.py calls measure() after the adapter's init() and before the data and the model, outside
every clock of the protocol, and records the result (its own duration included) as the
result's "peak". Measuring in the run's process means the same framework, the same BLAS / cuBLAS
it links, the same threads (OMP_NUM_THREADS, the framework's pools) and the same math settings
(a TF32 variant's probe runs with TF32 on); a separate step would start a second container and
import the framework a second time for the same answer.

Each framework module offers gemm(n): (matmul, wait, method), or a list of them, the
framework's fp32 GEMM paths: matmul() starts one n x n float32 product (2 n^3 FLOPs) of two fixed
random matrices on the run's device and returns its output, wait(out) blocks until that output
is computed, and method says which call it is. The peak is the fastest path: a framework whose
layers run another library than its matmul (MXNet 1.9: mx.nd.dot on the wheel's old OpenBLAS,
FullyConnected and Convolution on oneDNN; Keras 3 on TensorFlow: eager matmul, the training
step XLA-compiled) offers each, so the model cannot outrun its own yardstick through a faster
library than the one probed. The first path is the framework's plain matmul (the probe before
it had candidates). A framework module without gemm gets numpy's, labelled "numpy.dot
(fallback: not the framework's own matmul)".

A probe, per path: one untimed product (allocation, JIT compilation, cuBLAS handles), then
samples of `inner` products each (1 on the CPU; 10 on a GPU, so a sample is not a single
launch), the best sample kept, until `repeats` samples or the path's share of the time budget
(setup and the untimed product excluded: Theano compiles its function, XLA its program; at
least two samples). Sizes: 2048 on the CPU (2 x 2048^3 = 17.2 GFLOP, ~0.1 s at 200 GFLOP/s);
halved while the untimed product takes over 2 s (a slow CPU, a BLAS-less build); 8192 on a
GPU. A product counts 2 n^3 FLOPs (measure/flops.py's convention). The record keeps the best
path's figures (method: the path that gave the peak) and every path's in `candidates`.
"""
from __future__ import absolute_import, division, print_function
from measure import timer

CPU_N = 2048
GPU_N = 8192
MIN_N = 256
REPEATS = 5
BUDGET_SECONDS = 3.0   # the samples of all paths stop after this long, shared equally between
#                        them (at least two samples each)
SLOW_SECONDS = 2.0     # an untimed product longer than this halves n


def one_line(e):
    """An error as "Type: first line of its message"."""
    return ("%s: %s" % (type(e).__name__, e)).splitlines()[0]


def numpy_gemm(n):
    """The fallback: numpy's float32 dot (the BLAS numpy links), for a framework module without
    gemm(); the result says so."""
    import numpy as np
    rng = np.random.RandomState(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    return (lambda: np.dot(a, b), lambda out: None,
            "numpy.dot float32 (fallback: not the framework's own matmul)")


def _paths(fw, n):
    made = (getattr(fw, "gemm", None) or numpy_gemm)(n)
    return list(made) if isinstance(made, list) else [made]


def _probe(fw, built, index, n, inner, repeats, budget):
    """One path's samples: (method, n, seconds per product of each sample). built: the paths
    made at n (rebuilt at each halving)."""
    while True:
        matmul, wait, method = built[index]
        t = timer.clock()
        wait(matmul())  # untimed: allocation, compilation, handles
        if timer.clock() - t <= SLOW_SECONDS or n <= MIN_N:
            break
        n //= 2
        built = _paths(fw, n)
    samples = []
    sampling = timer.clock()  # the budget counts the samples, not the setup (compilation)
    while len(samples) < repeats:
        t = timer.clock()
        out = None
        for _ in range(inner):
            out = matmul()
        wait(out)
        samples.append((timer.clock() - t) / inner)
        if timer.clock() - sampling > budget and len(samples) >= 2:
            break
    return method, n, samples


def measure(fw, device, threads=None, n=None, repeats=REPEATS, budget=BUDGET_SECONDS):
    """The probe's record: gflops (the best sample of the fastest path), method (that path),
    matrix [n, n, n], threads, seconds (the probe's whole duration), samples, inner,
    best_seconds, median_gflops; candidates: every path's method, gflops, median_gflops,
    matrix and samples (or its error), the framework's plain matmul first."""
    start = timer.clock()
    gpu = device == "gpu"
    n = n or (GPU_N if gpu else CPU_N)
    inner = 10 if gpu else 1
    built = _paths(fw, n)
    count = len(built)
    share = budget / count
    candidates, best = [], None
    for index in range(count):
        try:
            method, size, samples = _probe(fw, built, index, n, inner, repeats, share)
        except Exception as e:  # one path failing (an op this build lacks) leaves the others
            if count == 1:
                raise
            candidates.append({"path": index, "error": one_line(e)})
            continue
        flop = 2.0 * size * size * size
        ordered = sorted(samples)
        rec = {"method": method, "gflops": flop / ordered[0] / 1e9,
               "median_gflops": flop / ordered[len(ordered) // 2] / 1e9,
               "matrix": [size, size, size], "samples": len(samples),
               "best_seconds": ordered[0]}
        candidates.append(rec)
        if best is None or rec["gflops"] > best["gflops"]:
            best = rec
    if best is None:
        raise RuntimeError("every GEMM path failed: %s" % "; ".join(
            c["error"] for c in candidates))
    return {"gflops": best["gflops"], "median_gflops": best["median_gflops"],
            "method": best["method"], "dtype": "float32", "matrix": best["matrix"],
            "device": device, "threads": threads if threads is not None else {},
            "samples": best["samples"], "inner": inner, "best_seconds": best["best_seconds"],
            "candidates": [dict((k, v) for k, v in c.items() if k != "best_seconds")
                           for c in candidates],
            "seconds": timer.clock() - start}
