"""Caffe2: what every Caffe2 task file shares.

One file serves the 2017 image (Caffe2 v0.8.1 built from source, Python 3.5) and the Caffe2 that
the torch 1.8.1 wheel ships (caffe2.python, Python 3.9), so it keeps to the API both have:
workspace, core.DeviceOption with positional arguments (v0.8.1 names the second one
cuda_gpu_id, later Caffe2 device_id), brew, model_helper.ModelHelper, optimizer.build_sgd.
Caffe2 runs nets of operators in a global workspace: the task files build a net, feed numpy
blobs in (FeedBlob, the host-to-device copy), run it (RunNet) and fetch blobs out. There is no
RNN task: the 2017 benchmark had no Caffe2 RNN notebook. The host imports this module without
Caffe2 installed: caffe2 is imported by load().
"""
import os

NAME = "caffe2"
PACKAGES = ("caffe2",)
# the pip distribution that installs caffe2 in caffe2-torch1.8 (the 2017 image compiles it: none)
DISTRIBUTIONS = ("torch",)
# tuned: OpenMP threads sleep while they wait instead of spinning. Caffe2's CPU convolution
# runs an im2col and a GEMM per image, each a short parallel region: on a CPU shared with other
# work, threads spinning at those barriers while their peer is descheduled made a CNN step
# 15-30x slower here (2 cores, load 10-13: 45-90 s a step by default, 2.5-2.9 s with PASSIVE).
# And MKL's AVX2 kernels on an AMD CPU ({mkl_amd_cpu_type}: tasks/measure/blas.py): the torch
# 1.8.1 wheel's MKL 2020.0.0 runs a generic path on AMD unless MKL_DEBUG_CPU_TYPE=5. Measured
# (2-CPU AMD EPYC with AVX-512, alternating rounds): GEMM 80 -> 216 GFLOP/s, the CNN 110/111 ->
# 197/189 img/s (1,024 synthetic), ResNet-50 inference 5.5/5.1 -> 14.0/15.0 img/s.
VARIANTS = [
    {"name": "reference", "doc": "Caffe2's defaults, NCHW blobs, brew helpers",
     "env": {}, "tasks": ("cnn", "inference"), "row": "Caffe2"},
    {"name": "tuned", "doc": "OpenMP threads sleep while waiting (OMP_WAIT_POLICY=PASSIVE); "
     "MKL's AVX2 kernels on an AMD CPU (MKL_DEBUG_CPU_TYPE=5)",
     "env": {"OMP_WAIT_POLICY": "PASSIVE", "MKL_DEBUG_CPU_TYPE": "{mkl_amd_cpu_type}"},
     "tasks": ("cnn", "inference"), "row": "Caffe2",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "Caffe2's CPU convolutions, an im2col and one MKL GEMM per image: "
                    "per operator (workspace.BenchmarkNet, 20 steps of 64, 186 img/s; 2-CPU "
                    "AMD EPYC, MKL's AVX2 path), ConvGradient 55 % of the step and Conv 26 %, "
                    "about 75 GFLOP/s against MKL's GEMM at 216; ReluGradient 7 %, Dropout "
                    "4 %",
                    "inference": "Caffe2's convolutions: per operator (workspace.BenchmarkNet, "
                    "batch 32, 13 img/s), Conv 85 % of the time at about 135 GFLOP/s against "
                    "MKL's GEMM at 216, the unfused SpatialBN 8 %"}},
]
# set by init(), read by the task files: the DeviceOption every net and FeedBlob runs with
DEVICE = {"gpu": False, "opts": None}
core = None
workspace = None
caffe2_pb2 = None


def load():
    global core, workspace, caffe2_pb2
    from caffe2.proto import caffe2_pb2
    from caffe2.python import core, workspace


def version():
    """Caffe2 has no version attribute. In the torch wheel it is torch's release (read from the
    wheel's torch/version.py beside caffe2/, without importing torch); a source build of Caffe2
    says its release in the image (DLBENCH_CAFFE2_VERSION, set by images/caffe2)."""
    import caffe2
    torch_version = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        caffe2.__file__))), "torch", "version.py")
    if os.path.isfile(torch_version):
        found = {}
        with open(torch_version) as f:
            for line in f:
                if line.startswith("__version__"):
                    found["v"] = line.split("=", 1)[1].strip().strip("'\"")
        if found:
            return "%s (torch wheel)" % found["v"]
    return os.environ.get("DLBENCH_CAFFE2_VERSION", "unknown")


def _gpus():
    count = getattr(workspace, "NumCudaDevices", None)
    return count() if count is not None and workspace.has_gpu_support else 0


def probe():
    C = workspace.C
    info = {"gpu_support": bool(workspace.has_gpu_support), "gpus": _gpus()}
    build = getattr(C, "get_build_options", None)  # absent in v0.8.1
    if build is not None:
        options = build()
        info["cuda"] = options.get("CUDA_VERSION") or None
        info["cudnn"] = options.get("CUDNN_VERSION") or None
        info["build"] = dict((k, options.get(k)) for k in ("BLAS", "USE_MKL", "USE_MKLDNN",
                                                           "USE_OPENMP", "USE_EIGEN_FOR_BLAS")
                             if k in options)
    cudnn = getattr(C, "get_cudnn_version", None)  # the GPU module only
    if info.get("cudnn") is None and cudnn is not None:
        info["cudnn"] = str(cudnn())
    if hasattr(C, "has_mkldnn"):
        info["mkldnn"] = bool(C.has_mkldnn)
    return info


def init(device, seed, variant):
    if device == "gpu" and not _gpus():
        raise RuntimeError("--device gpu, but Caffe2 (%s) sees no CUDA GPU (gpu support built in: "
                           "%s): use --device cpu, or a CUDA build on a host with a GPU and the "
                           "NVIDIA container runtime" % (version(), workspace.has_gpu_support))
    workspace.ResetWorkspace()
    DEVICE["gpu"] = device == "gpu"
    # every operator of a net runs with this option; random_seed seeds the fillers (weight init)
    # and dropout on that device
    DEVICE["opts"] = core.DeviceOption(caffe2_pb2.CUDA if DEVICE["gpu"] else caffe2_pb2.CPU,
                                       0, seed)
    # Caffe2 computes in fp32 (no TF32 path: CUDA 8 and 10.2 predate it)
    return {"device_option": "CUDA:0" if DEVICE["gpu"] else "CPU",
            "precision": {"dtype": "float32"}}


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    import numpy as np
    rng = np.random.RandomState(0)
    for blob in ("peak_a", "peak_b"):
        workspace.FeedBlob(blob, rng.standard_normal((n, n)).astype(np.float32),
                           device_option=DEVICE["opts"])
    net = core.Net("peak_gemm")
    net.Proto().device_option.CopyFrom(DEVICE["opts"])  # on the run's device
    net.MatMul(["peak_a", "peak_b"], ["peak_c"])
    workspace.CreateNet(net, True)
    name = net.Proto().name
    # RunNet returns once the net's operators have finished (CUDA: stream synchronised)
    return (lambda: workspace.RunNet(name), lambda out: None,
            "Caffe2 MatMul operator in a net, %s" % ("CUDA" if DEVICE["gpu"] else "CPU"))
