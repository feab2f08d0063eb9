"""The DenseNet-121 task's Keras 3, Flax, MXNet and Chainer columns (issue 16) in their images:
tasks/run.py densenet with tasks/ mounted read-only, in the hardened container every benchmark
run gets (harness/containers/hardening.py: no network, read-only root, tmpfs /tmp, an unprivileged uid,
and the /dev/shm a densenet bench run gets), on tiny sizes (--image-size 32, batch 4, one
epoch). What the engine tests that go through `dlbench bench` for every image that declares
densenet do not run already (test_engine_frameworks: each image's first variant on synthetic
data; test_engine_densenet: two replicas on real PNGs, Keras 3 on its jax variant):

* MXNet's gluon variants (the reference, module, is the one those run): real data through
  gluon.data.DataLoader's worker processes (the patient split's sizes, a test AUC over the
  labels present, the validation loss), and two contexts (--workers 2) on synthetic data;
* the parameter counts: 6,968,206 with the 14-way head (run.py asserts it), 7,978,856 with
  the 1000-way ImageNet head, built here in each column (MXNet: both APIs).

Keras 3 and Flax compile DenseNet-121 for minutes on a loaded 2-CPU machine (XLA, tf.function):
they run here only as far as building the model. The images come from the harness's build (as
CI builds them). DLBENCH_DENSENET_IMAGES (name=tag,...) runs them on other tags instead, e.g.
an image built FROM the current one plus the new pins, before the shared ones are rebuilt.
The host-side checks: tests/tasks/test_densenet_columns.py."""
import json
import os

import pytest

from helpers import DENSENET_IMAGES, HANG_S, TASKS
from helpers.datagen import make_chestxray_dir

TINY = ["--epochs", "1", "--image-size", "32", "--batch-size", "4", "--seed", "0"]
# the loaders' worker processes hand batches over in /dev/shm, as `dlbench bench` gives them
SHM = "2g"


def image_tag(name):
    override = dict(item.split("=", 1) for item in
                    os.environ.get("DLBENCH_DENSENET_IMAGES", "").split(",") if "=" in item)
    if name in override:
        return override[name]
    from harness.images import build
    from harness.core import catalog
    return build.ensure_built(catalog.lookup([name])[0], echo=lambda *a, **k: None).image_id


@pytest.fixture(scope="module")
def chestxray(tmp_path_factory):
    """20 patients x 2 images: the patient split gives 28 / 4 / 8 images (14 / 2 / 4 patients);
    grey PNGs and every fifth RGBA, 48x48."""
    folder = tmp_path_factory.mktemp("chestxray")
    make_chestxray_dir(str(folder), patients=20, per_patient=2, size=48)
    for path in [str(folder)] + [str(p) for p in folder.rglob("*")]:  # any uid reads it
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    return str(folder)


def run_task(engine, name, args, tmp_path, data=None):
    """run.py densenet in the image, hardened; returns (exit code, result dict, output)."""
    from harness.containers import hardening
    out = tmp_path / ("out-%d" % len(os.listdir(str(tmp_path))))
    out.mkdir()
    os.chmod(str(out), 0o777)  # the container's uid writes its result there
    volumes = {TASKS: {"bind": "/tasks", "mode": "ro"},
               str(out): {"bind": "/results", "mode": "rw"}}
    if data:
        volumes[data] = {"bind": "/data", "mode": "ro"}
    container = engine.containers.run(
        image_tag(name), ["python3", "/tasks/run.py", "densenet"] + list(args)
        + ["--out", "/results/result.json"], volumes=volumes, detach=True,
        shm_size=SHM, **hardening.settings())
    try:
        code = container.wait(timeout=HANG_S)["StatusCode"]
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    path = out / "result.json"
    result = json.loads(path.read_text()) if path.exists() else None
    return code, result, logs


def check_ok(code, result, logs, devices=1, batch=4):
    assert result is not None, logs[-3000:]
    assert code == 0 and result["status"] == "ok", (result.get("reason"), logs[-3000:])
    assert result["model"]["parameters"] == 6968206
    parallel = result["parallel"]
    assert (parallel["devices"], parallel["per_device_batch"], parallel["global_batch"]) == (
        devices, batch, batch * devices), parallel
    timings = result["timings"]
    assert timings["images_per_second"] > 0 and timings["batches"] >= 1, timings
    assert result["params"]["image_size_override"] == 32
    return result


def check_real(result):
    assert result["data"]["source"] == "real"
    assert result["data"]["sizes"] == {"train": 28, "valid": 4, "test": 8}
    metrics = result["metrics"]
    assert len(metrics["test_auc_per_label"]) == 14
    defined = [a for a in metrics["test_auc_per_label"] if a is not None]
    assert defined and metrics["test_auc"] == pytest.approx(sum(defined) / len(defined))
    assert len(metrics["valid_loss"]) == 1 and metrics["valid_loss"][0] > 0


# DLBENCH_DENSENET_TESTS=all adds every column's real-data and two-device runs (minutes each
# for Keras 3 and Flax on a loaded 2-CPU machine); by default, the ones no other engine test runs
ALL = os.environ.get("DLBENCH_DENSENET_TESTS") == "all"
REAL = [("mxnet", "gluon")] + ([("keras3", "tensorflow"), ("flax", "reference"),
                                ("mxnet", "module"), ("chainer", "reference")] if ALL else [])
PARALLEL = [("mxnet", "gluon")] + ([("keras3", "jax"), ("flax", "reference"),
                                    ("mxnet", "module"), ("chainer", "reference")] if ALL else [])


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.parametrize("adapter,variant", REAL)
def test_real_data_through_the_frameworks_loader(engine, adapter, variant, chestxray,
                                                 tmp_path):
    code, result, logs = run_task(engine, DENSENET_IMAGES[adapter],
                                  ["--adapter", adapter, "--variant", variant,
                                   "--data", "/data"] + TINY, tmp_path, data=chestxray)
    result = check_ok(code, result, logs)
    check_real(result)
    assert result["timings"]["batches"] == 7 - 1  # 28 images, batches of 4, warm-up aside
    assert result["params"]["loader_workers"] >= 1  # worker processes (threads in tf.data)


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.parametrize("adapter,variant", PARALLEL)
def test_two_devices_on_the_cpu(engine, adapter, variant, tmp_path):
    """Synthetic data (in RAM), two data-parallel replicas: each global batch of 8 split in
    two; the one-device synthetic path is the same code with one replica."""
    code, result, logs = run_task(engine, DENSENET_IMAGES[adapter],
                                  ["--adapter", adapter, "--variant", variant, "--synthetic",
                                   "--limit", "24", "--workers", "2"] + TINY, tmp_path)
    result = check_ok(code, result, logs, devices=2)
    assert result["data"]["source"] == "synthetic"
    assert result["timings"]["batches"] == 2  # 24 images, global batches of 8, warm-up aside
    assert result["metrics"]["test_auc"] is not None


COUNT = r"""
import json, sys
sys.path.insert(0, "/tasks")
from common import params
from runtime import adapters
adapter, variant = sys.argv[1], sys.argv[2]
fw, task, _ = adapters.start("densenet", adapter, variant, "cpu", 0)
p = params.scale_for_devices(params.for_task("densenet"), 1)
dist = task.start_devices(p, 0)
counts = [int(task.count_parameters(task.build_model(dict(p, n_classes=n), dist)))
          for n in (14, 1000)]
print(json.dumps(counts))
"""


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.parametrize("adapter,variant", [("keras3", "tensorflow"), ("flax", "reference"),
                                             ("mxnet", "gluon"), ("mxnet", "module"),
                                             ("chainer", "reference")])
def test_parameter_counts_with_both_heads(engine, adapter, variant):
    from harness.containers import hardening
    logs = engine.containers.run(
        image_tag(DENSENET_IMAGES[adapter]), ["python3", "-c", COUNT, adapter, variant],
        volumes={TASKS: {"bind": "/tasks", "mode": "ro"}}, remove=True, stdout=True,
        stderr=False, **hardening.settings())
    counts = json.loads(logs.decode().strip().splitlines()[-1])
    assert counts == [6968206, 7978856]
