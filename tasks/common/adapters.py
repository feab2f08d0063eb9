"""Finding and starting an adapter: frameworks/<adapter>.py plus <task>/<adapter>.py.

The order matters and lives here once: the variant's environment is set, then the framework
is imported (load), then the task file (which imports the framework at its top), then init.
"""
import importlib
import os

from common import blas

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


def variant(fw, name, task):
    """The variant's declaration; an unknown name, or one this task lacks, is a ValueError."""
    for v in fw.VARIANTS:
        if v["name"] == name:
            if task in v.get("tasks", (task,)):
                return v
            raise ValueError("variant %r of %s has no %s task; it runs: %s"
                             % (name, fw.NAME, task, ", ".join(v["tasks"])))
    raise ValueError("variant %r unknown; %s offers %s"
                     % (name, fw.NAME, ", ".join(variant_names(fw, task))))


def start(task, adapter, variant_name, device, seed):
    """(framework module, task module, settings to record): everything set up, nothing timed."""
    fw = framework(adapter)
    if adapter not in adapters_for(task):
        raise LookupError("no %s adapter '%s' (tasks/%s/%s.py); known: %s"
                          % (task, adapter, task, adapter, ", ".join(adapters_for(task))))
    declared = variant(fw, variant_name, task)
    env = blas.expand(declared.get("env", {}))  # {cpu_count}, {openblas_coretype} filled in
    os.environ.update(env)  # read when the framework is imported
    fw.load()
    module = importlib.import_module("%s.%s" % (task, adapter))
    settings = dict(fw.init(device, seed, variant_name) or {})
    settings.update(module.SETTINGS)
    settings["variant_env"] = env
    return fw, module, settings
