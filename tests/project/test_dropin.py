"""Adding a framework is dropping files in: images/<name>/Dockerfile, tasks/frameworks/<adapter>.py
and tasks/<task>/<adapter>.py, and nothing else. A scratch copy of the repository gets a copy of
the PyTorch column under a new name, with no other file touched (checked by hashing every file
before and after); then `dlbench list`, the static checks and (with an engine) a tiny `bench`
pick it up (the bench: tests/engine/test_engine_dropin.py)."""
import os
import shutil
import subprocess
import sys

import pytest

from helpers import HANG_S
from helpers.dropin import IMAGE, NEW, cli, scratch_repo


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return scratch_repo(tmp_path_factory)


def test_list_shows_the_new_image(scratch):
    res = cli(scratch, "list")
    assert res.returncode == 0, res.stderr
    row = [line for line in res.stdout.splitlines() if line.startswith(IMAGE + " ")]
    assert row and " %s " % NEW in row[0] and "reference,tuned" in row[0], res.stdout
    assert "warning" not in res.stderr, res.stderr
    runs = cli(scratch, "list", "--runs").stdout.splitlines()
    assert "%s %s tuned" % (IMAGE, NEW) in runs


def test_static_checks_pick_it_up(scratch):
    env = dict(os.environ, DLBENCH_ROOT=scratch)
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                          "-m", "not slow and not engine", "tests/tasks/test_tasks_static.py",
                          "tests/tasks/test_adapters_skeleton.py", "tests/tasks/test_tasks_frameworks.py",
                          "tests/unit/images/test_catalog_compose.py"],
                         cwd=scratch, env=env, capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "[%s]" % NEW in res.stdout, res.stdout  # the framework module's own checks ran
    assert "-%s]" % NEW in res.stdout  # and the task files' skeleton checks
    assert "compose" in res.stdout


def test_a_broken_drop_in_is_caught(scratch, tmp_path):
    """The same checks fail when the new framework module imports its framework at the top
    (the host could no longer read it without the framework installed)."""
    repo = str(tmp_path / "repo")
    shutil.copytree(scratch, repo)
    path = os.path.join(repo, "tasks", "frameworks", NEW + ".py")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('NAME = "%s"' % NEW, 'import torch\nNAME = "%s"' % NEW, 1))
    env = dict(os.environ, DLBENCH_ROOT=repo)
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/tasks/test_adapters_skeleton.py"], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode != 0
    assert "imports torch at its top" in res.stdout, res.stdout[-2000:]
