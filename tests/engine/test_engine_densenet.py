"""DenseNet-121 on ChestX-ray14 in the images, through `dlbench bench` on the real Docker engine:
a generated folder of real PNGs and a labels CSV in the NIH format, given with --data-dir (a
local copy), two data-parallel replicas on the CPU (--workers 2: PyTorch's two
DistributedDataParallel processes over gloo, TensorFlow's MirroredStrategy over two logical
CPUs), tiny sizes (32x32 crops, batch 2 per replica, 30 images). Needs an engine."""
import glob

import pytest
from click.testing import CliRunner

from helpers import HANG_S
from helpers.datagen import make_chestxray_dir
from harness.images import build
from harness.core import catalog
from harness.results import results
from harness.cli import main

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# every image built here whose label runs densenet (2017-era images excepted)
IMAGES = [img.name for img in catalog.discover() if img.era == "current"
          and "densenet" in img.tasks]
MODES = {"pytorch": ("processes", "gloo"),
         "tensorflow": ("in_process", "MirroredStrategy")}
# the variant whose data-parallel path runs on the CPU, where the image's reference cannot: Keras
# 3's distribution API is the JAX backend's (tasks/densenet/keras3.py); PyTorch's reference is
# 2017's nn.DataParallel, GPUs only (tasks/densenet/pytorch.py): ddp runs CPU replicas
VARIANT = {"keras-3.15": "jax", "pytorch-2.13": "ddp"}


@pytest.fixture(scope="module", params=IMAGES)
def image(request, engine):
    img = catalog.lookup([request.param])[0]
    build.ensure_built(img, echo=lambda *a, **k: None)
    return img


def test_two_replicas_on_real_pngs(image, tmp_path):
    data = tmp_path / "chestxray"
    make_chestxray_dir(str(data), patients=10, per_patient=3, size=40)
    out = tmp_path / "results"
    res = CliRunner().invoke(main, ["bench", image.name, "--task", "densenet", "--data-dir",
                                    str(data), "--results-dir", str(out), "--workers", "2",
                                    "--epochs", "1", "--image-size", "32", "--batch-size", "2",
                                    "--timeout", str(HANG_S)]
                             + (["--variant", VARIANT[image.name]] if image.name in VARIANT
                                else []))
    found = [results.read_upgraded(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    assert len(found) == 1, res.output
    r = found[0]
    assert res.exit_code == 0 and r["status"] == "ok", (res.output, r.get("reason"))
    assert results.validate(r) == []
    assert r["data"]["source"] == "real" and r["data"]["patients"] == 10
    assert r["data"]["sizes"] == {"train": 21, "valid": 3, "test": 6}
    assert r["model"]["parameters"] == 6968206
    par = r["parallel"]
    assert (par["devices"], par["per_device_batch"], par["global_batch"]) == (2, 2, 4)
    mode = MODES.get(r["adapter"])
    if mode:
        assert (par["mode"], par["backend"]) == mode
    t = r["timings"]
    assert t["batches"] == 21 // 4 - 1 and len(t["valid_seconds"]) == 1
    assert t["images_per_second_per_device"] * 2 == pytest.approx(t["images_per_second"])
    assert r["metrics"]["test_auc"] is None or 0 <= r["metrics"]["test_auc"] <= 1
    # MFU per device from DenseNet-121's FLOPs at the run's crop (measure/flops.py); energy over
    # the timed segments where RAPL is readable, else absent with its reason, never zero
    assert r["flops"]["train_per_example"] > 3 * r["flops"]["forward_per_example"] * 0.9
    assert r["mfu"]["achieved_gflops"] > 0 and "per device" in r["mfu"]["basis"]
    if r["energy"] is None:
        assert r["energy_absent_reason"].startswith("RAPL not readable")
    else:
        cpu = r["energy"]["cpu_package"]
        assert cpu["joules"] > 0 and cpu["segments"] == 2  # one epoch, paused to validate
        assert cpu["seconds"] == pytest.approx(t["train_seconds"], rel=0.01)
