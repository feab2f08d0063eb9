"""R-Keras(TF): what every R-Keras task file shares. The model code is R.

The R-Keras(TF) row of 2017: ilkarman/DeepLearningFrameworks, notebooks/KerasR_TF_CNN, _RNN
and _Inference.ipynb (R 3.4.1, R's keras package 2.1.5 over Keras 2.1.5 on TensorFlow 1.5):
the model built, compiled, fit and asked to predict from R, R's keras package calling Python
Keras through reticulate. Here the same R programs, tasks/<task>/rkeras.R, call Keras 3.15 on
TensorFlow 2.21 through reticulate 1.28 (R's keras package is not installable here: CRAN is
unreachable and Debian does not package it; it is a thin layer over reticulate, and each R
file says which of its functions it stands in for).

The bridge: R hosts Python, as R's keras package runs. The runtime's script (tasks/run.py,
check_model.py) re-executes itself under HOST (runtime/rhost.R: Rscript; reticulate embeds this
Python), so the R task file's functions are called from the runtime's loop, which keeps the
clock, the data and the checks of every other row, and R's keras objects are the Python Keras
objects the runtime holds (the weight mapping is Keras 3's own, tasks/<task>/keras3.py). Data
cross into R as R arrays (reticulate's conversion, a copy to column-major doubles), and R
converts them back to NumPy as R keras's keras_array() does, inside the timed call, as 2017's
fit paid it; the crossing is measured by bench/rkeras_bridge.py. The host imports this module
without R or Keras installed.
"""
from __future__ import absolute_import, division, print_function
import os

NAME = "keras-r"
PACKAGES = ("keras", "tensorflow")
VARIANTS = [
    {"name": "reference", "doc": "R 4.2 + reticulate driving Keras 3 on TensorFlow (CPU)",
     "env": {"KERAS_BACKEND": "tensorflow"}, "row": "R-Keras(TF)",
     # what holds each task below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "Keras 3's fit on TensorFlow, as the Keras(TF) row (398 img/s, "
                    "38 % MFU in one bench on a 2-CPU AMD EPYC): R adds nothing measurable "
                    "(the adapter's fit against a plain Python fit in this image, 0.988 "
                    "median of 5 rounds; docs/frameworks.md)",
                    "inference": "2017's predict() per batch and R's arrays: in this image "
                    "(2-CPU AMD EPYC), Keras's predict() took 1,029-1,191 ms a batch of 32 "
                    "against predict_on_batch's 900-906 (it builds its data pipeline every "
                    "call), and R's double-precision, column-major array becomes float32 "
                    "row-major every batch (95-103 ms); the same network from Python's Keras "
                    "ran 27-33 img/s, from R 21-24"}},
]
DEVICE = {"gpu": False, "layout": "NHWC"}  # set by init(), read by the task files
TASKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = ["Rscript", os.path.join(TASKS, "runtime", "rhost.R")]  # runtime/adapters.py rehost
keras = None  # Python Keras, once load() has imported it
host = None  # runtime/host.py: what R handed over


def load():
    global keras, host
    from runtime import host
    if not host.hosted():
        raise RuntimeError("the rkeras adapter's task files are R programs, run by Rscript "
                           "with reticulate: this process was not started under it (%s); run "
                           "them in the r-keras image, where tasks/run.py starts it itself"
                           % " ".join(HOST))
    import keras


def version():
    return keras.__version__


def probe():
    from common import cpus
    import tensorflow as tf
    info = {"backend": "tensorflow", "backend_version": tf.__version__, "cuda": None,
            "threads": {"cpu_count": cpus.total()},
            "r": host.session["version"], "reticulate": host.session["reticulate"]}
    return info


def init(device, seed, variant):
    if device == "gpu":
        raise RuntimeError("--device gpu: the r-keras image is a CPU build (tensorflow-cpu); "
                           "use --device cpu")
    keras.utils.set_random_seed(seed)  # Keras draws the initial weights (R's seed: unused)
    return {"backend": keras.backend.backend(), "host": "%s, reticulate %s"
            % (host.session["version"], host.session["reticulate"]),
            "precision": {"dtype": keras.config.floatx()}}


def gemm(n):
    """The peak probe's product: TensorFlow's (frameworks/tensorflow.py), which Keras runs."""
    from frameworks import tensorflow as tensorflow_module
    tensorflow_module.load()
    return tensorflow_module.gemm(n)


def r_functions(task):
    """The functions of tasks/<task>/rkeras.R, sourced after tasks/common/rkeras.R (the R keras
    functions the task files call), by name, each a Python callable."""
    return host.source([os.path.join(TASKS, "common", "rkeras.R"),
                        os.path.join(TASKS, task, "rkeras.R")])
