"""PyTorch: what every PyTorch task file shares.

One file serves the 2017 image (torch 0.3.1, Python 3.5) and current PyTorch, so it keeps to the
API both accept. The host imports this module to discover the framework (name, packages,
variants) without PyTorch installed: torch is imported by load(), which run.py calls after the
variant's environment is set.
"""
import re

NAME = "pytorch"                 # the framework, as results and the report name it
PACKAGES = ("torch",)            # what its task files may import besides stdlib and numpy
VARIANTS = [
    {"name": "reference", "doc": "PyTorch's defaults, NCHW tensors",
     "env": {}, "row": "PyTorch"},
    {"name": "tuned", "doc": "channels-last memory format (PyTorch >= 1.5)",
     "env": {}, "tasks": ("cnn", "inference"), "row": "PyTorch"},
]
DEVICE = {"cuda": False, "channels_last": False}  # set by init(), read by the task files
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
    if DEVICE["channels_last"] and not hasattr(torch, "channels_last"):
        raise RuntimeError("variant tuned needs channels_last (PyTorch >= 1.5)")
    return {"memory_format": "channels_last" if DEVICE["channels_last"] else "contiguous",
            "precision": _true_fp32()}


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
