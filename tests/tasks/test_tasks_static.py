"""tasks/ runs in the 2017 images: Python 3.5 syntax, stdlib + numpy + the framework only."""
import ast
import os
import shutil
import subprocess
import sys

import pytest

from harness.core import taskfiles

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")

# What each adapter may import besides the standard library and numpy: its framework, as its
# framework module declares (PACKAGES); the tasks/ packages themselves are local.
FRAMEWORK_PACKAGES = dict((fw.adapter, set(fw.packages)) for fw in taskfiles.discover(TASKS))
LOCAL = {"common", "measure", "runtime", "frameworks"} | set(taskfiles.task_names(TASKS))
# The framework-free folders, each importing only those before it: what task files import
# (common), what a run measures (measure), the runtime that times and writes (runtime).
FRAMEWORK_FREE = ("common", "measure", "runtime")
# Tools in tasks/ that are no adapter, and what else each may import: the one-off ChestX-ray14
# resize is 2017's resize_im, a Pillow call; it runs in an image whose Pillow is pinned
# (`dlbench data prepare`, harness/images/data.py), never in a benchmark run.
TOOLS = {os.path.join(TASKS, "prepare_chestxray.py"): {"PIL"}}


def python_files():
    for folder, _, files in os.walk(TASKS):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def top_level_imports(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_vermin_python_35():
    vermin = shutil.which("vermin") or pytest.fail("vermin missing: pip install -e .[test]")
    proc = subprocess.run([vermin, "-t=3.5-", "--no-tips", "--violations",
                           "--no-parse-comments", TASKS], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# what the cntk-2.7 image runs on Python 2.7 (CNTK 2.7's wheels there are cp27mu): the runtime,
# the checks' entry point, and the cntk and keras2 framework and task files. A line guarded for
# Python 3 says so with a "novm" comment (common/cpus.py).
PYTHON27 = (["run.py", "check_model.py", "common", "runtime", "measure",
             os.path.join("frameworks", "cntk.py"), os.path.join("frameworks", "keras2.py")]
            + [os.path.join(task, adapter + ".py") for task in ("cnn", "rnn", "inference")
               for adapter in ("cntk", "keras2")])


def test_vermin_python_27_for_the_cntk_image():
    vermin = shutil.which("vermin") or pytest.fail("vermin missing: pip install -e .[test]")
    proc = subprocess.run([vermin, "-t=2.7-", "--no-tips", "--violations"]
                          + [os.path.join(TASKS, p) for p in PYTHON27],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_vermin_catches_an_f_string(tmp_path):
    """The check above can fail: an f-string is flagged."""
    (tmp_path / "x.py").write_text("x = 1\nprint(f'{x}')\n")
    proc = subprocess.run([shutil.which("vermin"), "-t=3.5-", "--no-tips", "--violations",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode != 0


def forbidden_imports(path):
    """What this tasks/ file imports beyond stdlib, numpy, tasks/ itself and its framework's
    declared packages (common/, measure/, runtime/ and run.py: no framework at all)."""
    stdlib = set(sys.stdlib_module_names)
    adapter = os.path.splitext(os.path.basename(path))[0]
    allowed = stdlib | {"numpy"} | LOCAL | TOOLS.get(path, set())
    if os.path.basename(os.path.dirname(path)) not in FRAMEWORK_FREE and adapter != "run":
        allowed = allowed | FRAMEWORK_PACKAGES.get(adapter, set())
    return ["%s imports %s" % (os.path.relpath(path, ROOT), mod)
            for mod in top_level_imports(path) if mod not in allowed]


def test_imports_only_stdlib_numpy_and_the_framework():
    bad = [problem for path in python_files() for problem in forbidden_imports(path)]
    assert not bad, bad


def test_the_import_check_can_fail(tmp_path):
    """A PyTorch task file importing TensorFlow, or common/ importing torch, is caught."""
    (tmp_path / "cnn").mkdir()
    (tmp_path / "common").mkdir()
    (tmp_path / "cnn" / "pytorch.py").write_text("import numpy as np\nimport tensorflow\n")
    (tmp_path / "common" / "x.py").write_text("import torch\n")
    assert forbidden_imports(str(tmp_path / "cnn" / "pytorch.py"))
    assert forbidden_imports(str(tmp_path / "common" / "x.py"))


def layer_problems(root=TASKS):
    """Imports against the order of FRAMEWORK_FREE, and task files (tasks/<task>/) importing
    anything of tasks/ but common/ (their helpers) and their own framework module."""
    order = dict((name, k) for k, name in enumerate(FRAMEWORK_FREE))
    tasks = set(taskfiles.task_names(TASKS))
    problems = []
    for folder, _, files in os.walk(root):
        here = os.path.basename(folder)
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            for mod in top_level_imports(path):
                if here in order and mod in order and order[mod] > order[here]:
                    problems.append("%s/%s imports %s" % (here, name, mod))
                if here in tasks and mod in ("measure", "runtime"):
                    problems.append("%s/%s imports %s" % (here, name, mod))
    return sorted(problems)


def test_the_framework_free_folders_import_one_way():
    assert not layer_problems()


def test_the_layer_check_can_fail(tmp_path):
    for sub, text in (("common", "from runtime import protocol\n"), ("measure", ""),
                      ("runtime", ""), ("cnn", "from measure import peak\n")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.py").write_text(text)
    assert layer_problems(str(tmp_path)) == ["cnn/x.py imports measure",
                                             "common/x.py imports runtime"]
