"""Finding and starting an adapter: frameworks/<adapter>.py plus <task>/<adapter>.py.

The order matters and lives here once: the variant's environment is set, then the framework
is imported (load), then the task file (which imports the framework at its top), then init.
"""
from __future__ import absolute_import, division, print_function
import importlib
import os

from measure import blas

TASKS_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _names(folder):
    path = os.path.join(TASKS_ROOT, folder)
    return sorted(f[:-3] for f in os.listdir(path)
                  if f.endswith(".py") and not f.startswith("_"))


def adapters_for(task):
    """Adapters with a file for this task."""
    return [a for a in _names(task) if a in _names("frameworks")]


def framework(adapter):
    """The framework module frameworks/<adapter>.py (nothing of the framework imported yet)."""
    if adapter not in _names("frameworks"):
        raise LookupError("no framework module tasks/frameworks/%s.py; known: %s"
                          % (adapter, ", ".join(_names("frameworks"))))
    return importlib.import_module("frameworks." + adapter)


def variant_names(fw, task=None):
    """The variants the framework module declares (for this task, when given), in order."""
    return [v["name"] for v in fw.VARIANTS if task is None or task in v.get("tasks", (task,))]


def variant(fw, name, task, device=None):
    """The variant's declaration; an unknown name, one this task lacks, or one that does not run
    on this device (optional `devices`, e.g. TF32 and mixed precision: GPU math modes) is a
    ValueError."""
    for v in fw.VARIANTS:
        if v["name"] == name:
            if task not in v.get("tasks", (task,)):
                raise ValueError("variant %r of %s has no %s task; it runs: %s"
                                 % (name, fw.NAME, task, ", ".join(v["tasks"])))
            if device is not None and device not in v.get("devices", (device,)):
                raise ValueError("variant %r of %s runs on %s only; use --device %s or another "
                                 "variant" % (name, fw.NAME, " and ".join(v["devices"]),
                                              v["devices"][0]))
            return v
    raise ValueError("variant %r unknown; %s offers %s"
                     % (name, fw.NAME, ", ".join(variant_names(fw, task))))


# variables that hold a list: a variant's entries are added after the caller's (the 2017 Theano
# image's CPU runs take -e THEANO_FLAGS=device=cpu; a later flag wins in Theano's parser)
LIST_ENV = {"THEANO_FLAGS": ","}


def variant_env(fw, declared, device, task=None):
    """The environment a run of this variant sets: its `env`, plus what its `task_env` adds for
    this task (a setting measured to help one task and hurt another), with the placeholders
    filled in, and for a CPU run every GPU hidden."""
    env = dict(declared.get("env", {}))
    env.update((declared.get("task_env") or {}).get(task) or {})
    env = blas.expand(env)  # {cpu_count}, {openblas_coretype}, {mkl_amd_cpu_type} filled in
    for key, sep in LIST_ENV.items():  # added to what the caller set, not replacing it
        given = [f for f in os.environ.get(key, "").split(sep) if f]
        if key in env and given:
            env[key] = sep.join(given + [f for f in env[key].split(sep) if f not in given])
    if device == "cpu":
        # a CPU run hides every GPU from the framework before it is imported, so a CUDA build
        # never initialises CUDA or places work there (Keras's torch backend picks its device at
        # import) on a GPU host; recorded with the variant's env
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def set_env_early(argv):
    """Called by run.py before numpy is imported: numpy's own OpenBLAS reads its thread count
    and kernel (OMP_NUM_THREADS, OPENBLAS_CORETYPE) once, when numpy loads it, so the variant's
    environment must be in place first. Reads only TASK, --adapter, --variant and --device from
    the command line; anything it cannot make sense of is left to run.py's own checks."""
    import argparse
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("task", nargs="?")
    ap.add_argument("--adapter", "--framework", dest="adapter")
    ap.add_argument("--variant")
    ap.add_argument("--device", default="cpu")
    try:
        args, _ = ap.parse_known_args(argv)
        fw = framework(args.adapter)
        name = args.variant or variant_names(fw, args.task)[0]
        os.environ.update(variant_env(fw, variant(fw, name, args.task, args.device),
                                      args.device, args.task))
    except (LookupError, ValueError, IndexError, TypeError, SystemExit, ImportError):
        return
    rehost(fw)


HOSTED_ENV = "DLBENCH_HOSTED_BY"


def on_path(program):
    """Whether an executable named program is on PATH (shutil.which, which Python 2.7 lacks)."""
    return any(os.access(os.path.join(folder, program), os.X_OK)
               for folder in os.environ.get("PATH", "").split(os.pathsep) if folder)


def rehost(fw):
    """A framework whose task files are programs in another language declares HOST: the command
    of a program that embeds Python and runs a script in it with its arguments (R:
    runtime/rhost.R, frameworks/rkeras.py). The process re-executes itself under that host,
    once (HOSTED_ENV marks the hosted one), before numpy or the framework is imported; the
    hosted script parses the same arguments and does everything else as here."""
    host = getattr(fw, "HOST", None)
    if not host or os.environ.get(HOSTED_ENV) == host[0] or not on_path(host[0]):
        return  # no host program here: the framework's load() says what is missing
    import sys
    os.environ[HOSTED_ENV] = host[0]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(host[0], list(host) + [os.path.abspath(sys.argv[0])] + sys.argv[1:])


def start(task, adapter, variant_name, device, seed):
    """(framework module, task module, settings to record): everything set up, nothing timed."""
    fw = framework(adapter)
    if adapter not in adapters_for(task):
        raise LookupError("no %s adapter '%s' (tasks/%s/%s.py); known: %s"
                          % (task, adapter, task, adapter, ", ".join(adapters_for(task))))
    declared = variant(fw, variant_name, task, device)
    env = variant_env(fw, declared, device, task)
    os.environ.update(env)  # read when the framework is imported
    fw.load()
    module = importlib.import_module("%s.%s" % (task, adapter))
    settings = task_settings(fw, module, device, fw.init(device, seed, variant_name))
    loop = training_loop(module, declared)
    if loop:
        settings["training_loop"] = loop
    settings["variant_env"] = env
    return fw, module, settings


def training_loop(module, declared):
    """How the runner trains with this task file: "train_epoch" where the file hands each
    epoch to its framework (2017's Keras fit) and the variant does not ask for one step per
    minibatch (its declaration's "loop": "steps"); "train_step" for the other training files;
    None for a file that does not train (inference)."""
    if not hasattr(module, "train_step"):
        return None
    if hasattr(module, "train_epoch") and declared.get("loop") != "steps":
        return "train_epoch"
    return "train_step"


def task_settings(fw, module, device, started):
    """What the task file runs with on `device`, as recorded: `started` (what the framework's
    init returned, less the keys its SETTINGS_TASKS scopes to other tasks) updated with the
    task file's SETTINGS, its layout the one for the device
    (layout_on), which fw.DEVICE["layout"] tells the task file and run.py feeds."""
    settings = dict(started or {})
    task = getattr(module, "__name__", "").split(".")[0]
    for key, tasks in getattr(fw, "SETTINGS_TASKS", {}).items():  # e.g. an inference-only switch
        if task not in tasks:
            settings.pop(key, None)
    settings.update(module.SETTINGS)
    settings["layout"] = layout_on(module.SETTINGS, device)
    settings.pop("layout_gpu", None)
    fw.DEVICE["layout"] = settings["layout"]
    return settings


def layout_on(declared, device):
    """The image layout a task file runs on `device`: its SETTINGS' "layout_gpu" on a GPU where
    it declares one (2017 ran some programs channels-first on its GPUs, a layout TensorFlow's
    CPU kernels lack), else its "layout"."""
    if device == "gpu" and declared.get("layout_gpu"):
        return declared["layout_gpu"]
    return declared.get("layout")
