"""Adding a framework is dropping files in: images/<name>/Dockerfile, tasks/frameworks/<adapter>.py
and tasks/<task>/<adapter>.py, and nothing else. A scratch copy of the repository gets a copy of
the PyTorch column under a new name, with no other file touched (checked by hashing every file
before and after); then `dlbench list`, the static checks and (with an engine) a tiny `bench`
pick it up."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from conftest import HANG_S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW = "torchcopy"
IMAGE = "torchcopy-2.13"


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [f for f in out.stdout.decode().split("\0") if f and os.path.isfile(
        os.path.join(ROOT, f))]


def digests(repo):
    found = {}
    for folder, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".pytest_cache")]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, repo)] = hashlib.sha256(f.read()).hexdigest()
    return found


def drop_in(repo):
    """Copy the PyTorch column (its four tasks) to NEW: the three kinds of file a new framework
    brings."""
    def copy(src, dst, *edits):
        with open(os.path.join(repo, src)) as f:
            text = f.read()
        for old, new in edits:
            assert old in text, (src, old)
            text = text.replace(old, new)
        os.makedirs(os.path.dirname(os.path.join(repo, dst)), exist_ok=True)
        with open(os.path.join(repo, dst), "w") as f:
            f.write(text)

    copy("tasks/frameworks/pytorch.py", "tasks/frameworks/%s.py" % NEW,
         ('NAME = "pytorch"', 'NAME = "%s"' % NEW))
    for task in ("cnn", "rnn", "inference", "densenet"):
        copy("tasks/%s/pytorch.py" % task, "tasks/%s/%s.py" % (task, NEW),
             ("from frameworks import pytorch as fw", "from frameworks import %s as fw" % NEW))
    for name in os.listdir(os.path.join(repo, "images", "pytorch-2.13")):
        if name != "Dockerfile":
            copy("images/pytorch-2.13/" + name, "images/%s/%s" % (IMAGE, name))
    copy("images/pytorch-2.13/Dockerfile", "images/%s/Dockerfile" % IMAGE,
         ('org.dlbench.adapter="pytorch"', 'org.dlbench.adapter="%s"' % NEW),
         ('org.dlbench.variants="reference,tuned,tf32,amp-bf16" \\\n', ""))  # the module's, by default
    # the one mechanical change besides the new files: `make compose.yaml`
    with open(os.path.join(repo, "compose.yaml"), "w") as f:
        subprocess.run([sys.executable, "-m", "harness.images.compose"], cwd=repo, stdout=f,
                       env=dict(os.environ, DLBENCH_ROOT=repo, PYTHONPATH=repo), check=True,
                       timeout=HANG_S)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("scratch") / "repo")
    for rel in tracked_files():
        os.makedirs(os.path.dirname(os.path.join(repo, rel)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), os.path.join(repo, rel))
    before = digests(repo)
    drop_in(repo)
    after = digests(repo)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert [k for k in before if k not in after] == []
    assert changed == sorted(["compose.yaml", "tasks/frameworks/%s.py" % NEW] +
                             ["tasks/%s/%s.py" % (t, NEW)
                              for t in ("cnn", "rnn", "inference", "densenet")] +
                             ["images/%s/%s" % (IMAGE, n) for n in
                              os.listdir(os.path.join(ROOT, "images", "pytorch-2.13"))])
    return repo


def cli(repo, *argv):
    env = dict(os.environ, DLBENCH_ROOT=repo, PYTHONPATH=repo)
    return subprocess.run([sys.executable, "-m", "harness.cli"] + list(argv), cwd=repo, env=env,
                          capture_output=True, text=True, timeout=HANG_S)


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
                          "-m", "not slow and not engine", "tests/test_tasks_static.py",
                          "tests/test_adapters_skeleton.py", "tests/test_tasks_frameworks.py",
                          "tests/test_catalog_compose.py"],
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
                          "tests/test_adapters_skeleton.py"], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode != 0
    assert "imports torch at its top" in res.stdout, res.stdout[-2000:]


@pytest.mark.engine
@pytest.mark.slow
def test_bench_runs_it(scratch, engine, tmp_path):
    try:
        res = cli(scratch, "bench", IMAGE, "--synthetic", "--task", "cnn", "--variant", "all",
                  "--epochs", "1", "--limit", "64", "--results-dir", str(tmp_path / "results"))
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        import json
        import glob
        found = [json.load(open(p)) for p in glob.glob(str(tmp_path / "results/*/*/*/result.json"))]
        assert sorted(r["variant"] for r in found) == ["reference", "tuned"]
        for r in found:
            assert r["status"] == "ok" and r["framework"] == NEW and r["adapter"] == NEW
            assert r["provenance"]["image"] == IMAGE
    finally:
        try:
            engine.images.remove("dlbench/%s:latest" % IMAGE, force=True)
        except Exception:
            pass
