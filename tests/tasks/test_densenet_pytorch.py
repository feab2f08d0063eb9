"""tasks/densenet/pytorch.py on the host (the CPU torch wheel and Pillow that .ci/run installs):
DenseNet-121's parameter counts, the DataLoader's crops and flips on real PNGs, and tasks/run.py
end to end on tiny data: one process on synthetic data, two DistributedDataParallel processes
(gloo) on a generated ChestX-ray14 folder. Tiny sizes (32x32 crops, a few images)."""
import json
import os
import subprocess
import sys

import jsonschema
import numpy as np
import pytest

from helpers import HANG_S
from helpers.datagen import make_chestxray_dir, png_bytes

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
RUN = os.path.join(TASKS, "run.py")
SCHEMA = json.load(open(os.path.join(TASKS, "runtime", "result.schema.json")))
sys.path.insert(0, TASKS)


@pytest.fixture
def module(monkeypatch):
    """The task file, started as run.py starts it (its variant's environment set: restored
    afterwards)."""
    from runtime import adapters
    for key in list(os.environ):
        monkeypatch.setenv(key, os.environ[key])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    fw, task_module, _ = adapters.start("densenet", "pytorch", "reference", "cpu", 0)
    return task_module


def test_densenet121_parameter_counts(module):
    from common import params
    p = params.scale_for_devices(params.for_task("densenet"), 1)
    dist = {"rank": 0, "world": 1, "device": torch.device("cpu"), "ddp": False}
    assert module.count_parameters(module.build_model(p, dist)) == 6968206 == p["parameters"]
    imagenet = dict(p, n_classes=1000)  # torchvision's densenet121: 7,978,856
    assert module.count_parameters(module.build_model(imagenet, dist)) == 7978856
    assert p["parameters_imagenet_head"] == 7978856


@pytest.mark.parametrize("resize", [40, None], ids=["originals", "prepared"])
def test_the_loader_crops_and_flips_within_the_image(module, tmp_path, resize):
    """A 40x40 grey PNG whose pixel value encodes its column, resized to 40 (no change; an
    original) or read as it is (a prepared copy: chestxray.train_resize gives None) and
    cropped to 32: each training crop is a window of 32 consecutive columns starting at 0..8,
    mirrored or not, and both occur."""
    from common import params
    p = params.scale_for_devices(params.for_task("densenet"), 1)
    p.update(height=32, width=32, resize=40, mean=[0.0] * 3, sd=[1.0] * 3)
    ramp = np.tile(np.arange(40, dtype=np.uint8) * 6, (40, 1))  # column c has value 6c
    path = str(tmp_path / "ramp.png")
    with open(path, "wb") as f:
        f.write(png_bytes(ramp))
    data = module.ChestXrays([path], np.zeros((1, 14), np.float32), p, True, resize)
    torch.manual_seed(0)
    seen_flip = set()
    for _ in range(40):
        x, y = data[0]
        assert tuple(x.shape) == (3, 32, 32) and tuple(y.shape) == (14,)
        row = np.round(x[0, 0].numpy() * 255 / 6).astype(int)
        assert (x[0] == x[1]).all() and (x[1] == x[2]).all()  # grey decoded to RGB
        ascending = bool(row[1] > row[0])
        seen_flip.add(ascending)
        cols = row if ascending else row[::-1]
        assert 0 <= cols[0] <= 8 and list(cols) == list(range(cols[0], cols[0] + 32))
    assert seen_flip == {True, False}  # both flipped and unflipped crops occur
    evaluation = module.ChestXrays([path], np.zeros((1, 14), np.float32), p, False, resize)
    assert tuple(evaluation[0][0].shape) == (3, 32, 32)


def run_task(tmp_path, *args, **env):
    out = str(tmp_path / "result.json")
    proc = subprocess.run([sys.executable, RUN, "densenet", "--adapter", "pytorch"] + list(args)
                          + ["--out", out], capture_output=True, text=True, timeout=HANG_S,
                          env=dict(os.environ, OMP_NUM_THREADS="1", **env))
    assert os.path.exists(out), proc.stderr
    result = json.load(open(out))
    jsonschema.validate(result, SCHEMA, format_checker=jsonschema.FormatChecker())
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return result, events, proc


@pytest.mark.slow
def test_synthetic_one_process(tmp_path):
    r, events, proc = run_task(tmp_path, "--synthetic", "--epochs", "1", "--limit", "24",
                               "--image-size", "32", "--batch-size", "4")
    assert proc.returncode == 0 and r["status"] == "ok", r.get("reason")
    assert r["data"]["source"] == "synthetic" and r["model"]["parameters"] == 6968206
    assert r["parallel"]["devices"] == 1 and r["parallel"]["global_batch"] == 4
    assert r["params"]["image_size_override"] == 32 and r["params"]["batch_size_override"] == 4
    t = r["timings"]
    assert t["batches"] == 24 // 4 - 1  # the first step is the warm-up
    assert t["images_per_second"] > 0 and t["images_per_second_per_device"] > 0
    assert 0 <= r["metrics"]["test_auc"] <= 1 and len(r["metrics"]["test_auc_per_label"]) == 14
    assert [e["event"] for e in events] == ["start", "epoch", "end"]


@pytest.mark.slow
def test_two_ddp_processes_on_real_pngs(tmp_path):
    data = str(tmp_path / "chestxray")
    make_chestxray_dir(data, patients=10, per_patient=3, size=40)
    # a package counter laid out as the kernel lays it out (measure/energy.py reads it; it does
    # not move here: 0 J is its true reading), so the meter's wiring in run.py is exercised
    package = tmp_path / "powercap" / "intel-rapl:0"
    package.mkdir(parents=True)
    for name, value in (("name", "package-0"), ("energy_uj", 1000),
                        ("max_energy_range_uj", 262143328850)):
        (package / name).write_text("%s\n" % value)
    r, events, proc = run_task(tmp_path, "--data", data, "--variant", "ddp", "--workers", "2",
                               "--epochs", "2", "--image-size", "32", "--batch-size", "2",
                               DLBENCH_POWERCAP=str(tmp_path / "powercap"))
    assert proc.returncode == 0 and r["status"] == "ok", (r.get("reason"), proc.stderr[-2000:])
    assert r["data"]["source"] == "real" and r["data"]["sizes"] == {"train": 21, "valid": 3,
                                                                    "test": 6}
    par = r["parallel"]
    assert par == {"devices": 2, "per_device_batch": 2, "global_batch": 4, "global_lr": 0.0002,
                   "mode": "processes", "backend": "gloo"}
    t = r["timings"]
    # 21 training images make 5 global batches of 4 per epoch; the first is the warm-up
    assert t["batches"] == 2 * 5 - 1
    assert len(t["valid_seconds"]) == 2 and len(r["metrics"]["valid_loss"]) == 2
    assert t["train_val_seconds"] == pytest.approx(t["train_seconds"] + sum(t["valid_seconds"]))
    assert t["images_per_second_per_device"] == pytest.approx(t["images_per_second"] / 2)
    assert r["metrics"]["test_auc"] is None or 0 <= r["metrics"]["test_auc"] <= 1
    # energy over the timed segments, by rank 0 for both replicas: one segment per epoch (the
    # clock pauses to validate) and the loop's end; their length is train_seconds
    cpu = r["energy"]["cpu_package"]
    assert r["energy_absent_reason"] is None and cpu["joules"] == 0
    assert cpu["segments"] == 3 and cpu["seconds"] == pytest.approx(t["train_seconds"], abs=0.02)
    assert "rank 0" in r["energy"]["basis"] and "every replica" in r["energy"]["basis"]
    # rank 0 alone speaks: one start, one event per epoch, one end
    assert [e["event"] for e in events] == ["start", "epoch", "epoch", "end"]
    assert not [f for f in os.listdir(str(tmp_path)) if ".rank" in f]


@pytest.mark.slow
def test_a_failing_replica_fails_the_run_with_its_reason(tmp_path):
    """A data folder whose images vanish: every rank fails; the result says which and why."""
    data = str(tmp_path / "chestxray")
    make_chestxray_dir(data, patients=10, per_patient=1, size=40)
    r, _, proc = run_task(tmp_path, "--data", str(tmp_path / "nowhere"), "--variant", "ddp",
                          "--workers", "2", "--image-size", "32", "--batch-size", "2")
    assert proc.returncode == 1 and r["status"] == "failed"
    assert "Data_Entry_2017.csv" in r["reason"] and "dlbench data fetch chestxray14" in r["reason"]
    assert "Traceback" not in proc.stderr.strip().splitlines()[-1]


def test_the_reference_is_2017s_data_parallel_and_refuses_cpu_replicas(tmp_path):
    """2017's PyTorch_MultiGPU ran nn.DataParallel in one process: the reference does (GPUs
    only, so N replicas on the CPU are one clear error pointing at the ddp variant, which runs
    DistributedDataParallel in one process per replica)."""
    r, _, proc = run_task(tmp_path, "--synthetic", "--workers", "2", "--image-size", "32",
                          "--batch-size", "2")
    assert proc.returncode == 1 and r["status"] == "failed"
    assert r["reason"] == ("RuntimeError: nn.DataParallel (the reference, 2017's "
                           "PyTorch_MultiGPU) replicates over GPUs only: use --variant ddp for "
                           "2 replicas on the CPU")
    import ast
    with open(os.path.join(TASKS, "densenet", "pytorch.py")) as f:
        source = f.read()
    assert "net = nn.DataParallel(model, device_ids=list(range(dist[\"world\"])))" in source
    assert 'batch = p["batch_size"] if dist["ddp"] else p["global_batch"]' in source
    ast.parse(source)
