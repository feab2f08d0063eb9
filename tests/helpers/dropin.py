"""Adding a framework by dropping files in (the project's promise, DESIGN.md): a scratch copy of
the repository gets a copy of the PyTorch column under a new name, NEW, with no other file
touched (every file hashed before and after); cli() runs `dlbench` in that copy."""
import hashlib
import os
import shutil
import subprocess
import sys

from helpers import HANG_S, ROOT

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
         ('org.dlbench.variants="reference,tuned,ddp,tf32,amp-bf16" \\\n', ""))  # the module's, by default
    # the one mechanical change besides the new files: `make compose.yaml`
    with open(os.path.join(repo, "compose.yaml"), "w") as f:
        subprocess.run([sys.executable, "-m", "harness.images.compose"], cwd=repo, stdout=f,
                       env=dict(os.environ, DLBENCH_ROOT=repo, PYTHONPATH=repo), check=True,
                       timeout=HANG_S)


def scratch_repo(tmp_path_factory):
    """A copy of the repository's tracked files with the new column dropped in, checked to have
    changed nothing else."""
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
