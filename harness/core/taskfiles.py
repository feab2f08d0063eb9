"""The container side's declarations, as the host reads them: the task list
(tasks/common/params.py TASKS) and the framework modules (tasks/frameworks/<adapter>.py: the
framework's name, the packages its task files may import, its variants with what each sets and
the 2017 report row it stands beside).

Those modules import only the standard library at their top (the framework itself is imported
by their load(), inside the container), so the host imports them directly: one place for each
fact, no copy kept here. Nothing is registered by hand: a file in tasks/frameworks/ is a
framework, and the task files beside it (tasks/<task>/<adapter>.py) say which tasks it has.

The one place the host reads tasks/: import_task_file (one file by path), common_modules
(tasks/common's canonical parameters and numpy reference, for check-models) and declaration
(what a task file declares, read with ast: its framework is not imported)."""
import ast
import importlib.util
import os
import sys

from . import paths
from .errors import HarnessError

_loaded = {}


def import_task_file(path, name):
    """Import one tasks/ file by path (cached by path and modification time), outside
    sys.modules so the host never confuses it with an installed package of that name."""
    key = (path, os.path.getmtime(path))
    if key not in _loaded:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[key] = module
    return _loaded[key]


def task_names(tasks_root=None):
    """The tasks, in report order (tasks/common/params.py TASKS: the one place they are listed)."""
    path = os.path.join(tasks_root or paths.tasks_dir(), "common", "params.py")
    return tuple(import_task_file(path, "dlbench_task_params").TASKS)


def default_task_names(tasks_root=None):
    """The tasks a bench runs when none is named (tasks/common/params.py DEFAULT_TASKS)."""
    path = os.path.join(tasks_root or paths.tasks_dir(), "common", "params.py")
    return tuple(import_task_file(path, "dlbench_task_params").DEFAULT_TASKS)


class Framework(object):
    """One tasks/frameworks/<adapter>.py, read on the host."""

    def __init__(self, adapter, module, tasks_root):
        self.adapter = adapter
        self.module = module
        self.tasks_root = tasks_root
        self.name = module.NAME
        self.packages = tuple(module.PACKAGES)
        self.variants = [dict(v) for v in module.VARIANTS]

    @property
    def path(self):
        return os.path.join(self.tasks_root, "frameworks", self.adapter + ".py")

    def tasks(self):
        """The tasks this adapter has a file for, in report order."""
        return tuple(t for t in task_names(self.tasks_root)
                     if os.path.isfile(os.path.join(self.tasks_root, t, self.adapter + ".py")))

    def variant_names(self, task=None, device=None):
        """Declared variants (those that run this task and this device, when given; a variant's
        optional `devices`, e.g. ["gpu"] for TF32), first = the reference. A task the adapter has
        no file for (tensorflow1 has no densenet) has none."""
        has_task = task is None or task in self.tasks()  # no task file: no variant runs it
        return [v["name"] for v in self.variants
                if (task is None or (has_task and task in v.get("tasks", (task,))))
                and (device is None or device in v.get("devices", (device,)))]

    def variant(self, name):
        for v in self.variants:
            if v["name"] == name:
                return v
        return None

    def reference_row(self, variant):
        """The 2017 report row (harness/results/data/reference_2017.json 'name') this variant stands
        beside, or None."""
        v = self.variant(variant)
        return v.get("row") if v else None

    def __repr__(self):
        return "Framework(%r)" % self.adapter


def adapter_names(tasks_root=None):
    folder = os.path.join(tasks_root or paths.tasks_dir(), "frameworks")
    if not os.path.isdir(folder):
        return []
    return sorted(f[:-3] for f in os.listdir(folder)
                  if f.endswith(".py") and not f.startswith("_"))


def load(adapter, tasks_root=None):
    """The framework module of this adapter; HarnessError when it is missing or broken."""
    tasks_root = tasks_root or paths.tasks_dir()
    path = os.path.join(tasks_root, "frameworks", adapter + ".py")
    if not os.path.isfile(path):
        raise HarnessError("no framework module tasks/frameworks/%s.py (adapters: %s)"
                           % (adapter, ", ".join(adapter_names(tasks_root)) or "none"))
    try:
        module = import_task_file(path, "dlbench_framework_" + adapter.replace("-", "_"))
        return Framework(adapter, module, tasks_root)
    except Exception as e:  # a module that imports its framework at the top, a typo, ...
        raise HarnessError("tasks/frameworks/%s.py cannot be read on the host (%s: %s): it "
                           "must import only the standard library at its top"
                           % (adapter, type(e).__name__, e))


def discover(tasks_root=None):
    """Every framework module under tasks/frameworks/, sorted by adapter name."""
    return [load(a, tasks_root) for a in adapter_names(tasks_root)]


def find(adapter, tasks_root=None):
    """The framework module, or None where there is none (e.g. a result of an old adapter)."""
    try:
        return load(adapter, tasks_root)
    except HarnessError:
        return None


_common_modules = {}


def common_modules(tasks_root=None):
    """(canonical, reference) of tasks/common, imported from this checkout's tasks/ (numpy
    only: the host has it), once per tasks folder, without leaving `common` in sys.modules
    (another tasks folder, or the tests' own import of tasks/common, keeps its own)."""
    import importlib
    root = os.path.abspath(tasks_root or paths.tasks_dir())
    if root not in _common_modules:
        def ours(name):
            return name == "common" or name.startswith("common.")
        saved = dict((k, v) for k, v in sys.modules.items() if ours(k))
        for k in saved:
            del sys.modules[k]
        sys.path.insert(0, root)
        try:
            canonical = importlib.import_module("common.canonical")
            reference = importlib.import_module("common.reference")
        finally:
            sys.path.remove(root)
            for k in [k for k in sys.modules if ours(k)]:
                del sys.modules[k]
            sys.modules.update(saved)
        _common_modules[root] = (canonical, reference)
    return _common_modules[root]


def declaration(task, adapter, tasks_root=None):
    """{"functions": [...public functions], "equivalence": EQUIVALENCE or None, "not_checked":
    NOT_CHECKED or None (why a file has no equivalence block)} of tasks/<task>/<adapter>.py,
    read with ast (no framework imported)."""
    path = os.path.join(tasks_root or paths.tasks_dir(), task, adapter + ".py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = {"EQUIVALENCE": None, "NOT_CHECKED": None}
    for node in tree.body:
        name = getattr(node.targets[0], "id", None) if isinstance(node, ast.Assign) else None
        if name in found:
            found[name] = ast.literal_eval(node.value)
    return {"functions": [n.name for n in tree.body if isinstance(n, ast.FunctionDef)],
            "equivalence": found["EQUIVALENCE"], "not_checked": found["NOT_CHECKED"]}
