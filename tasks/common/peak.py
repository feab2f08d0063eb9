"""The peak probe: the device's fp32 matrix-multiply rate, measured in the run's own process.

run.py calls measure() after the adapter's init() and before the data and the model, outside
every clock of the protocol, and records the result (its own duration included) as the
result's "peak". Measuring in the run's process means the same framework, the same BLAS / cuBLAS
it links, the same threads (OMP_NUM_THREADS, the framework's pools) and the same math settings
(a TF32 variant's probe runs with TF32 on); a separate step would start a second container and
import the framework a second time for the same answer.

Each framework module offers gemm(n): (matmul, wait, method), where matmul() starts one n x n
float32 product of two fixed random matrices on the run's device and returns its output, wait(out)
blocks until that output is computed, and method says which call it is. A framework module
without gemm gets numpy's, labelled "numpy.dot (fallback: not the framework's own matmul)".

A probe: one untimed product (allocation, JIT compilation, cuBLAS handles), then samples of
`inner` products each (1 on the CPU; 10 on a GPU, so a sample is not a single launch), the best
sample kept, until `repeats` samples or the time budget (setup and the untimed product
excluded: Theano compiles its function, XLA its program). Sizes: 2048 on the CPU (2 x 2048^3 =
17.2 GFLOP, ~0.1 s at 200 GFLOP/s); halved while the untimed product takes over 2 s (a slow
CPU, a BLAS-less build); 8192 on a GPU. A product counts 2 n^3 FLOPs (common/flops.py's
convention).
"""
from common import protocol

CPU_N = 2048
GPU_N = 8192
MIN_N = 256
REPEATS = 5
BUDGET_SECONDS = 3.0   # the samples stop after this long (at least two are taken)
SLOW_SECONDS = 2.0     # an untimed product longer than this halves n


def numpy_gemm(n):
    """The fallback: numpy's float32 dot (the BLAS numpy links), for a framework module without
    gemm(); the result says so."""
    import numpy as np
    rng = np.random.RandomState(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    return (lambda: np.dot(a, b), lambda out: None,
            "numpy.dot float32 (fallback: not the framework's own matmul)")


def measure(fw, device, threads=None, n=None, repeats=REPEATS, budget=BUDGET_SECONDS):
    """The probe's record: gflops (best sample), method, matrix [n, n, n], threads, seconds
    (the probe's whole duration), samples, inner, best_seconds, median_gflops."""
    start = protocol.clock()
    gpu = device == "gpu"
    n = n or (GPU_N if gpu else CPU_N)
    inner = 10 if gpu else 1
    maker = getattr(fw, "gemm", None) or numpy_gemm
    while True:
        matmul, wait, method = maker(n)
        t = protocol.clock()
        wait(matmul())  # untimed: allocation, compilation, handles
        if protocol.clock() - t <= SLOW_SECONDS or n <= MIN_N:
            break
        n //= 2
    samples = []
    sampling = protocol.clock()  # the budget counts the samples, not the setup (compilation)
    while len(samples) < repeats:
        t = protocol.clock()
        out = None
        for _ in range(inner):
            out = matmul()
        wait(out)
        samples.append((protocol.clock() - t) / inner)
        if protocol.clock() - sampling > budget and len(samples) >= 2:
            break
    flop = 2.0 * n * n * n
    best = min(samples)
    ordered = sorted(samples)
    median = ordered[len(ordered) // 2]
    return {"gflops": flop / best / 1e9, "median_gflops": flop / median / 1e9,
            "method": method, "dtype": "float32", "matrix": [n, n, n], "device": device,
            "threads": threads if threads is not None else {}, "samples": len(samples),
            "inner": inner, "best_seconds": best,
            "seconds": protocol.clock() - start}
