"""tasks/ runs in the 2017 images: Python 3.5 syntax, stdlib + numpy + the framework only."""
import ast
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")

# What each adapter may import besides the standard library and numpy: its framework.
FRAMEWORK_PACKAGES = {
    "pytorch": {"torch"},
    "tensorflow2": {"tensorflow"},
    "keras3": {"keras", "tensorflow", "jax", "torch"},
    "flax": {"jax", "flax", "optax"},
}
LOCAL = {"common", "cnn", "rnn", "inference"}


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


def test_vermin_catches_an_f_string(tmp_path):
    """The check above can fail: an f-string is flagged."""
    (tmp_path / "x.py").write_text("x = 1\nprint(f'{x}')\n")
    proc = subprocess.run([shutil.which("vermin"), "-t=3.5-", "--no-tips", "--violations",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode != 0


def test_imports_only_stdlib_numpy_and_the_framework():
    stdlib = set(sys.stdlib_module_names)
    bad = []
    for path in python_files():
        adapter = os.path.splitext(os.path.basename(path))[0]
        allowed = stdlib | {"numpy"} | LOCAL | FRAMEWORK_PACKAGES.get(adapter, set())
        in_common = os.path.basename(os.path.dirname(path)) == "common" or adapter == "run"
        for mod in top_level_imports(path):
            if mod not in allowed or (in_common and mod not in stdlib | {"numpy"} | LOCAL):
                bad.append("%s imports %s" % (os.path.relpath(path, ROOT), mod))
    assert not bad, bad


def test_every_adapter_has_a_known_framework():
    for task in ("cnn", "rnn", "inference"):
        for name in os.listdir(os.path.join(TASKS, task)):
            if name.endswith(".py") and not name.startswith("_"):
                assert name[:-3] in FRAMEWORK_PACKAGES, "add %s to FRAMEWORK_PACKAGES" % name
