"""The clock check on a framework that dispatches asynchronously even on the CPU (JAX): a copy of
the Flax adapter whose sync() is deliberately a no-op runs in the real flax image, and its result
is flagged "clock stopped before the device finished"; the real Flax adapter, same image, same
run, is not. (The other real adapters are checked in test_engine_frameworks.py's learning runs.)
Needs an engine."""
import json
import os
import shutil

import pytest

from harness.images import build
from harness.core import catalog

# alone: a 10-step run's clock check allows a 1 % host copy, a few ms a busy neighbour could add
pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.alone]

from helpers import ROOT
IMAGE = "flax-0.12"


def tasks_with_a_broken_adapter(dst):
    """tasks/ plus adapter `flaxnosync`: the Flax framework module and CNN file, sync() a no-op."""
    shutil.copytree(os.path.join(ROOT, "tasks"), dst,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(dst, "frameworks", "flax.py"),
                os.path.join(dst, "frameworks", "flaxnosync.py"))
    with open(os.path.join(dst, "cnn", "flax.py")) as f:
        text = f.read()
    broken = text.replace("from frameworks import flax as fw",
                          "from frameworks import flaxnosync as fw")
    marker = "def sync(state):\n    jax.block_until_ready(state[\"params\"])"
    assert marker in broken, "tasks/cnn/flax.py's sync() changed: update this test"
    broken = broken.replace(marker, "def sync(state):\n    pass  # deliberately broken")
    with open(os.path.join(dst, "cnn", "flaxnosync.py"), "w") as f:
        f.write(broken)


def run(engine, image_id, tasks, out, adapter):
    engine.containers.run(
        image_id, ["python3", "/tasks/run.py", "cnn", "--adapter", adapter, "--synthetic",
                   "--limit", "640", "--epochs", "1", "--out", "/out/%s.json" % adapter],
        volumes={tasks: {"bind": "/tasks", "mode": "ro"}, out: {"bind": "/out", "mode": "rw"}},
        user="%d:%d" % (os.getuid(), os.getgid()), network_disabled=True, remove=True)
    with open(os.path.join(out, adapter + ".json")) as f:
        return json.load(f)


def test_a_no_op_sync_on_jax_is_flagged_and_the_real_adapter_is_not(engine, tmp_path):
    img = catalog.lookup([IMAGE])[0]
    built = build.ensure_built(img, echo=lambda *a, **k: None)
    tasks, out = str(tmp_path / "tasks"), str(tmp_path / "out")
    tasks_with_a_broken_adapter(tasks)
    os.mkdir(out)
    broken = run(engine, built.image_id, tasks, out, "flaxnosync")
    real = run(engine, built.image_id, tasks, out, "flax")
    for r in (broken, real):
        assert r["status"] == "ok", r.get("reason")
    check = broken["checks"]["clock"]
    assert check["flagged"] is True, check
    assert check["note"] == "clock stopped before the device finished"
    assert real["checks"]["clock"]["flagged"] is False, real["checks"]["clock"]
