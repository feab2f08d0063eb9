"""PyTorch: what every PyTorch task file shares.

One file serves the 2017 image (torch 0.3.1, Python 3.5) and current PyTorch, so it keeps to the
API both accept. The host imports this module to discover the framework (name, packages,
variants) without PyTorch installed: torch is imported by load(), which run.py calls after the
variant's environment is set.
"""
import os
import re
import tempfile

NAME = "pytorch"                 # the framework, as results and the report name it
# what its task files may import besides stdlib and numpy: PIL decodes the ChestX-ray14 PNGs
# in densenet's DataLoader workers, as 2017's PyTorch_MultiGPU notebook did (Image.open)
PACKAGES = ("torch", "PIL")
DISTRIBUTIONS = ("torch",)  # the engine tests' pip freeze check: the framework's own wheel
VARIANTS = [
    {"name": "reference", "doc": "PyTorch's defaults, NCHW tensors",
     "env": {}, "row": "PyTorch"},
    {"name": "tuned", "doc": "channels-last memory format (PyTorch >= 1.5); inference on the "
     "CPU also compiled and frozen (batch-norm folded, oneDNN convolutions): torch.compile's "
     "inductor where the image has a C++ compiler (PyTorch >= 2.0), else TorchScript "
     "optimised for inference (PyTorch >= 1.10)",
     "env": {}, "tasks": ("cnn", "inference"), "row": "PyTorch",
     # what holds each task below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "channels-last eager is PyTorch's fastest CNN training measured here "
                    "(torch.compile's inductor 490-540 img/s, eager 560-597, NCHW 365-392; "
                    "2-CPU AMD EPYC); its step profiled: convolutions (oneDNN) 69 % of the "
                    "time, dropout's masks (bernoulli_) 9 %, the dense layers on the wheel's "
                    "MKL (half oneDNN's GEMM rate on that AMD CPU) 9 %"}},
    {"name": "ddp", "doc": "DistributedDataParallel, one process per device (6 loader workers "
     "each, validation on rank 0): PyTorch's recommended path; the reference is 2017's "
     "nn.DataParallel in one process", "env": {}, "tasks": ("densenet",), "row": "PyTorch"},
    # GPU math modes the 2017 K80/P100 did not have: never beside a 2017 (fp32) number
    {"name": "tf32", "doc": "TF32 tensor-core math in cuDNN convolutions and matmuls (Ampere "
     "and newer GPUs; PyTorch >= 1.7)", "env": {}, "devices": ["gpu"], "row": None},
    {"name": "amp-bf16", "doc": "mixed precision: torch.autocast to bfloat16, fp32 weights "
     "(PyTorch >= 1.10, GPUs with bf16)", "env": {}, "devices": ["gpu"],
     "tasks": ("cnn", "inference"), "row": None},
]
# densenet on N devices: the reference is 2017's PyTorch_MultiGPU program, nn.DataParallel in
# one process (one DataLoader of 6 workers at the global batch, validation at the global batch on
# every GPU); the ddp variant runs one process per replica (DistributedDataParallel), which
# run.py starts
DATA_PARALLEL = {"ddp": "processes"}
# what init() records that one task only uses (runtime/adapters.py task_settings)
SETTINGS_TASKS = {"inference_graph": ("inference",)}
# set by init(), read by the task files
DEVICE = {"cuda": False, "channels_last": False, "freeze": None, "compiler": None,
          "autocast": None, "ddp": False}
torch = None  # the framework module, once load() has imported it


def load():
    global torch
    import torch


def version():
    return torch.__version__


def probe():
    info = {"cuda": getattr(torch.version, "cuda", None),
            "threads": {"torch": torch.get_num_threads()}}
    config = getattr(torch, "__config__", None)  # PyTorch >= 1.1: its build's BLAS (linked in)
    if config is not None:
        for key in ("BLAS_INFO", "LAPACK_INFO"):
            found = re.search(key + r"=([^,\s]+)", config.show())
            if found:
                info[key.lower()] = found.group(1)
    if torch.cuda.is_available():
        info["cudnn"] = str(torch.backends.cudnn.version())
        info["gpu"] = torch.cuda.get_device_name(0)
        capability = getattr(torch.cuda, "get_device_capability", None)  # absent in 0.3.1
        if capability is not None:
            info["gpu_compute_capability"] = "%d.%d" % capability(0)
    return info


def init(device, seed, variant):
    if device == "gpu" and not torch.cuda.is_available():
        raise RuntimeError("--device gpu, but PyTorch %s sees no CUDA GPU: use --device cpu or "
                           "a host with a GPU and the NVIDIA container runtime"
                           % torch.__version__)
    torch.manual_seed(seed)
    DEVICE["cuda"] = device == "gpu"
    if DEVICE["cuda"]:
        torch.cuda.manual_seed(seed)
        torch.backends.cudnn.benchmark = True  # cuDNN autotune: pick the fastest kernels
    DEVICE["channels_last"] = variant == "tuned"
    DEVICE["ddp"] = variant == "ddp"
    # tuned inference on the CPU: a compiled, frozen graph (tasks/inference/pytorch.py)
    DEVICE["freeze"] = (_inference_graph() if variant == "tuned" and not DEVICE["cuda"]
                        else None)
    if DEVICE["channels_last"] and not hasattr(torch, "channels_last"):
        raise RuntimeError("variant tuned needs channels_last (PyTorch >= 1.5)")
    precision = _true_fp32()
    if variant == "tf32":
        precision = _tf32()
    if variant == "amp-bf16":
        if not hasattr(torch, "autocast"):
            raise RuntimeError("variant amp-bf16 needs torch.autocast (PyTorch >= 1.10)")
        if not torch.cuda.is_bf16_supported():
            raise RuntimeError("variant amp-bf16: this GPU has no bfloat16 (use reference)")
        DEVICE["autocast"] = "bfloat16"
        precision.update({"dtype": "mixed", "autocast": "bfloat16"})
    settings = {"memory_format": "channels_last" if DEVICE["channels_last"] else "contiguous",
                "precision": precision}
    if DEVICE["freeze"] == "inductor":
        settings["inference_graph"] = ("torch.compile: inductor, freezing (weights as "
                                       "constants, batch-norm folded), C++ kernels by %s"
                                       % DEVICE["compiler"])
    elif DEVICE["freeze"] == "torchscript":
        settings["inference_graph"] = "torchscript: traced, frozen, optimize_for_inference"
    return settings


def _inference_graph():
    """What runs the tuned variant's CPU inference: "inductor" (torch.compile, PyTorch >= 2.0,
    where the image has the C++ compiler inductor builds its CPU kernels with), else
    "torchscript" (traced, frozen, optimize_for_inference; PyTorch >= 1.10), else None (eager).
    Measured in pytorch-2.13 on a 2-CPU AMD EPYC, ResNet-50 at batch 32, channels-last, three
    alternating rounds: inductor with freezing 36-41 images/s, frozen TorchScript 29-31."""
    import shutil
    compiler = shutil.which("g++") or shutil.which("c++")
    if hasattr(torch, "compile") and compiler:
        DEVICE["compiler"] = compiler
        # inductor's cache goes to the writable temporary folder (the harness's tmpfs): its
        # default path names the user, whom a container run as an unnamed uid does not have
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR",
                              os.path.join(tempfile.gettempdir(), "torchinductor"))
        return "inductor"
    if hasattr(torch.jit, "optimize_for_inference"):
        return "torchscript"
    return None


class _Off(object):
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def autocast():
    """The forward pass's precision context: torch.autocast to DEVICE["autocast"] on the GPU
    (mixed precision variants), else nothing (fp32 as 2017 ran)."""
    if DEVICE["autocast"] is None:
        return _Off()
    return torch.autocast("cuda", dtype=getattr(torch, DEVICE["autocast"]))


def _tf32():
    """TF32 on (variant tf32): cuDNN convolutions and cuBLAS matmuls round fp32 inputs to
    TF32 on tensor cores (Ampere and newer). Returns what is in effect."""
    if not hasattr(torch.backends.cuda, "matmul"):
        raise RuntimeError("variant tf32 needs PyTorch >= 1.7")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
    return {"dtype": "float32 (TF32 math)", "cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


def _true_fp32():
    """Pin true fp32, as the 2017 K80/P100 ran (they have no TF32): on Ampere and newer GPUs
    PyTorch lets cuDNN convolutions use TF32 by default. Returns what is in effect."""
    cuda_matmul = getattr(getattr(torch.backends, "cuda", None), "matmul", None)
    if cuda_matmul is not None and hasattr(cuda_matmul, "allow_tf32"):  # PyTorch >= 1.7
        cuda_matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if hasattr(torch, "set_float32_matmul_precision"):  # PyTorch >= 1.12 (CPU and GPU)
        torch.set_float32_matmul_precision("highest")
    return {"dtype": "float32",
            "cudnn_tf32": getattr(torch.backends.cudnn, "allow_tf32", False),
            "matmul_tf32": getattr(cuda_matmul, "allow_tf32", False),
            "float32_matmul_precision": (torch.get_float32_matmul_precision()
                                         if hasattr(torch, "get_float32_matmul_precision")
                                         else "highest")}


def gemm(n):
    """The peak probe's products (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device. On the CPU two paths: torch.mm (the BLAS the wheel
    links: MKL in PyPI's x86 wheels, which nn.Linear and the GRU's products use) and, where the
    build has oneDNN, its inner product (torch._C._nn.mkldnn_linear), the library PyTorch's CPU
    convolutions run on: the CNN cannot outrun its yardstick through oneDNN when MKL is the
    slower (measured in pytorch-2.13 on an AMD EPYC: torch.mm 170-190 GFLOP/s, mkldnn_linear
    412-425, no MKL_* setting changed torch.mm)."""
    import numpy as np
    rng = np.random.RandomState(0)
    a = torch.from_numpy(rng.standard_normal((n, n)).astype(np.float32))
    b = torch.from_numpy(rng.standard_normal((n, n)).astype(np.float32))
    if DEVICE["cuda"]:
        a, b = a.cuda(), b.cuda()
        return (lambda: torch.mm(a, b), lambda out: torch.cuda.synchronize(),
                "torch.mm on cuda, torch.cuda.synchronize")
    paths = [(lambda: torch.mm(a, b), lambda out: None, "torch.mm on the CPU")]
    onednn = onednn_gemm(a, b)
    return paths + [onednn] if onednn is not None else paths


def onednn_gemm(a, b):
    """The product a . b of two CPU float32 tensors through oneDNN's inner product
    (torch._C._nn.mkldnn_linear, PyTorch >= 1.2), as a peak probe path (matmul, wait, method),
    or None where the build has no oneDNN. Shared with frameworks/keras3.py (Keras on torch)."""
    linear = getattr(getattr(torch._C, "_nn", None), "mkldnn_linear", None)
    mkldnn = getattr(torch.backends, "mkldnn", None)
    if linear is None or mkldnn is None or not mkldnn.is_available() or a.is_cuda:
        return None
    dense = b.t().contiguous()  # linear's weight is (out, in): x . w^T = a . b
    am, wm = a.to_mkldnn(), dense.to_mkldnn()
    return (lambda: linear(am, wm), lambda out: None,
            "oneDNN inner product (torch._C._nn.mkldnn_linear) on the CPU, the library of "
            "torch's CPU convolutions")
