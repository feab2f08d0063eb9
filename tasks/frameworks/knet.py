"""Knet (Julia): what every Knet task file shares. The model code is Julia.

The Knet row of 2017: ilkarman/DeepLearningFrameworks, notebooks/Knet_CNN, Knet_RNN and
Knet_Inference.ipynb (Julia 0.6.1, Knet 0.8.5+, Tesla K80): weights as plain arrays, the model a
Julia function, gradients by AutoGrad's grad, optimizers' update!. The same programs are
tasks/<task>/knet.jl; this module and tasks/<task>/knet.py hand the runner's calls to them.

The bridge: Julia hosts Python (PyCall), as R hosts it for R-Keras (frameworks/rkeras.py). The
runtime's script re-executes itself under HOST (runtime/jlhost.jl), so the Julia functions are
called from the runtime's loop, clock and checks. Arrays cross into Julia as Julia arrays
(PyCall's conversion) and the Julia files permute them to Knet's (width, height, channels,
batch) order, inside the timed call.

NOT RUN on this project's machines: the image (images/knet, the 2017 recipe) needs Julia's
package registry on GitHub and julialang-s3, unreachable there, and a CUDA 8-era GPU (Knet
0.8.5's RNN is cuDNN's). Written to the contract and checked statically (tests/tasks). The host
imports this module without Julia.
"""
from __future__ import absolute_import, division, print_function
import os

NAME = "knet"
PACKAGES = ("numpy",)  # Knet is Julia's: nothing of it on the Python side
VARIANTS = [
    # a GPU only (init says so): the image is the 2017 CUDA 8 one, its RNN cuDNN's
    {"name": "reference", "doc": "Julia 0.6 + Knet 0.8.5 (2017's notebooks), on a GPU",
     "env": {}, "row": "Knet"},
]
DEVICE = {"gpu": True, "layout": "NCHW"}  # set by init(), read by the task files
TASKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = ["julia", os.path.join(TASKS, "runtime", "jlhost.jl")]  # runtime/adapters.py rehost
host = None  # runtime/host.py: what Julia handed over


def load():
    global host
    from runtime import host
    if not host.hosted():
        raise RuntimeError("the knet adapter's task files are Julia programs, run by julia "
                           "with PyCall: this process was not started under it (%s); run them "
                           "in the knet image, where tasks/run.py starts it itself"
                           % " ".join(HOST))


def version():
    return host.session["knet"]


def probe():
    from common import cpus
    return {"backend": "knet", "backend_version": host.session["version"], "cuda": "8.0",
            "threads": {"cpu_count": cpus.total()}}


def init(device, seed, variant):
    if device != "gpu":
        raise RuntimeError("--device %s: Knet 0.8.5 runs its RNN on cuDNN only, and the knet "
                           "image is the 2017 GPU one; use --device gpu" % device)
    functions = host.source([os.path.join(TASKS, "common", "knet.jl")])
    functions["init"](seed)
    DEVICE["gpu"] = True
    julia = "%s, Knet %s" % (host.session["version"], host.session["knet"])
    return {"backend": "knet", "host": julia, "precision": {"dtype": "float32"}}


def julia_functions(task):
    """The functions of tasks/<task>/knet.jl, included after tasks/common/knet.jl, by name,
    each a Python callable."""
    return host.source([os.path.join(TASKS, "common", "knet.jl"),
                        os.path.join(TASKS, task, "knet.jl")])
