"""Lasagne on Theano: what every Lasagne task file shares.

The Lasagne(Theano) row of 2017: ilkarman/DeepLearningFrameworks,
notebooks/Theano_Lasagne_CNN.ipynb (Theano 1.0.1, Lasagne 0.2.dev1) built the CNN from Lasagne's
layers and compiled it with theano.function. 2017 wrote only the CNN in Lasagne: the RNN and
inference on Theano are the theano adapter's (raw Theano). Here Lasagne 0.1, its last release,
with the two patches images/theano-1.0/patches/ apply for Theano 1.0 (0.2.dev1 was a git
checkout, never released). One difference 0.1 keeps: its Conv2DLayer(pad='same') computes a
full convolution and crops it (0.2 used Theano's border_mode='half'), a little more work.

Lasagne builds Theano graphs: the device, float type, BLAS and compiler settings, the checks
and the peak probe are frameworks/theano.py's, called from here. The host imports this module
without Lasagne or Theano installed.
"""
# the tasks whose tuned variant turns Theano's OpenMP on: frameworks/theano.py OPENMP_TASKS
# (measured there), written out since the host reads this file with the standard library only
OPENMP_TASKS = {"cnn": {"THEANO_FLAGS": "openmp=True"}}
NAME = "lasagne"
PACKAGES = ("lasagne", "theano")
VARIANTS = [
    {"name": "lasagne", "doc": "Lasagne 0.1's layers, Theano's C code linked to OpenBLAS",
     "env": {}, "tasks": ["cnn"], "row": "Lasagne(Theano)"},
    # the kernel matching this CPU's flags and Theano's OpenMP, as frameworks/theano.py's tuned
    # variant; on Lasagne's CNN (2-CPU AMD EPYC, alternating rounds) 135/162 -> 215/186 img/s
    {"name": "lasagne-tuned", "doc": "Lasagne, OpenBLAS's kernel set for this CPU's flags "
     "(OPENBLAS_CORETYPE), Theano's OpenMP (THEANO_FLAGS=openmp=True)",
     "env": {"OPENBLAS_CORETYPE": "{openblas_coretype}"}, "task_env": OPENMP_TASKS,
     "tasks": ["cnn"], "row": "Lasagne(Theano)",
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "Theano's convolutions and max-pool gradient: profiled "
                    "(THEANO_FLAGS profile=True, OpenMP on; 2-CPU AMD EPYC, 1,024 synthetic, "
                    "213 img/s), MaxPoolGrad 20 % of the step, the convolutions (CorrMM, "
                    "Lasagne 0.1's full convolution cropped to 'same') 45 %, the ReLU "
                    "gradients 9 %, dropout's masks 6 %"}},
]
DEVICE = {"gpu": False, "seed": 0}  # set by init(), read by the task files
lasagne = None  # the framework module, once load() has imported it


def _theano():
    from frameworks import theano as theano_module
    return theano_module


def load():
    global lasagne
    _theano().load()
    import lasagne


def version():
    return lasagne.__version__


def probe():
    info = _theano().probe()
    info["theano"] = _theano().version()
    return info


def init(device, seed, variant):
    import numpy as np
    settings = _theano().init(device, seed, variant)
    # Lasagne draws its initial weights and its dropout streams' seeds from this generator
    lasagne.random.set_rng(np.random.RandomState(seed))
    DEVICE["gpu"] = device == "gpu"
    DEVICE["seed"] = seed
    return settings  # Theano's version: probe() (env)


def gemm(n):
    """The peak probe's product: Theano's (frameworks/theano.py), which Lasagne's graphs call."""
    return _theano().gemm(n)
