"""`dlbench data prepare chestxray14` on the real Docker engine (the resize runs in
pytorch-2.13's Pillow, hardened, originals read-only), then each of the six DenseNet loaders
(tasks/densenet/<adapter>.py make_loader) in its own image on those copies: every training
image it delivers is a crop (flipped or not) of its prepared copy, pixel for pixel, i.e. it
read the copies (/data/images-38) and delivered 2017's pixels: decoded, cropped, flipped, no
resize of its own; evaluation delivers every test image at the crop size.

Generated images in the real format (1024x1024 8-bit grey PNGs, one in five RGBA; a labels CSV
in the NIH columns), not the NIH data. Sizes are tiny: copies of 38 px (what --image-size 32
resizes to: 32 * 264 / 224), 32 px crops, batch 4. Cost: the preparation about 10 s, each
loader check one container (a framework import and one pass over 14 + 4 images), about 1-2
minutes for the six on a loaded 2-CPU machine. Needs an engine."""
import json
import os

import pytest
from click.testing import CliRunner

from helpers import HANG_S
from helpers.datagen import make_chestxray_dir
from harness.images import build
from harness.core import catalog
from harness.containers import hardening
from harness.cli import main

# one worker runs the module: its fixture prepares the copies once
pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.xdist_group("chestxray-prepare")]

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
# each loader in the image that runs it, on a variant whose loader is the file's own
# (adapter, variant, image, what its loader does to a copy): a random crop and flip, or, as 2017's
# Keras_TF_MultiGPU (flow_from_directory(target_size=224)), a nearest-neighbour resize and flip
LOADERS = [("pytorch", "reference", "pytorch-2.13", "crop"),
           ("tensorflow", "reference", "tensorflow-2.21", "crop"),
           ("keras3", "tensorflow", "keras-3.15", "resize"),
           ("flax", "reference", "flax-0.12", "crop"),
           ("mxnet", "gluon", "mxnet-1.9", "crop"),
           ("chainer", "reference", "chainer-7.8", "crop")]


@pytest.fixture(scope="module")
def prepared(engine, tmp_path_factory):
    """10 patients x 2 images (14 train / 2 valid / 4 test), prepared at 38 px in the image."""
    folder = tmp_path_factory.mktemp("nih")
    make_chestxray_dir(str(folder), patients=10, per_patient=2, size=1024)
    for path in [str(folder)] + [str(p) for p in folder.rglob("*")]:  # any uid reads it
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    res = CliRunner().invoke(main, ["data", "prepare", "chestxray14", "--dest", str(folder),
                                    "--size", "38", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "20 images, 0 already prepared, 20 to resize to 38x38" in res.output
    return str(folder), res.output


def test_prepare_in_the_image_then_a_second_run_does_nothing(prepared):
    folder, output = prepared
    out = os.path.join(folder, "images-38")
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["count"] == 20 and manifest["size"] == [38, 38] and manifest["complete"]
    assert manifest["pillow"]  # the image's own Pillow, recorded
    from PIL import Image
    for name in os.listdir(os.path.join(folder, "images")):
        with Image.open(os.path.join(out, name)) as im:
            assert (im.format, im.mode, im.size) == ("PNG", "RGB", (38, 38))
    stamps = dict((n, os.stat(os.path.join(out, n)).st_mtime_ns) for n in os.listdir(out))
    res = CliRunner().invoke(main, ["data", "prepare", "chestxray14", "--dest", folder,
                                    "--size", "38"])
    assert res.exit_code == 0, res.output
    assert "20 already prepared, 0 to resize" in res.output and "(unchanged)" in res.output
    assert dict((n, os.stat(os.path.join(out, n)).st_mtime_ns)
                for n in os.listdir(out)) == stamps


CHECK = r"""
import json, os, sys
sys.path.insert(0, "/tasks")
import numpy as np
from common import chestxray, params
from runtime import adapters
adapter, variant, mode = sys.argv[1], sys.argv[2], sys.argv[3]
fw, task, settings = adapters.start("densenet", adapter, variant, "cpu", 0)
p = params.scale_for_devices(params.for_task("densenet"), 1)
p.update(height=32, width=32, resize=38, batch_size=4, global_batch=4, loader_workers=2)
dist = task.start_devices(p, 0)
splits, meta = chestxray.load_index("/data", p)
assert meta["images"]["read"] == "prepared", meta["images"]
assert all(os.path.dirname(path) == "/data/images-38" for path in splits["train"]["paths"])
with np.load("/check/copies.npz") as f:  # the copies as the host's Pillow decodes them
    copies = dict((os.path.basename(path), f[os.path.basename(path)].astype(np.float64))
                  for path in splits["train"]["paths"])

def arr(v):
    if hasattr(v, "asnumpy"):
        return v.asnumpy()
    if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
        return v.numpy()
    if hasattr(v, "values") and isinstance(v.values, tuple):
        return np.concatenate([arr(t) for t in v.values])
    return np.asarray(v)

def nhwc(x):
    x = arr(x).astype(np.float64)
    return x.transpose(0, 2, 3, 1) if task.SETTINGS["layout"] == "NCHW" else x

mean, sd = np.array(p["mean"]), np.array(p["sd"])
def views(copy):
    if mode == "resize":  # nearest neighbour, 38 -> 32 (half-pixel centres, or the legacy rule)
        for rows in (np.floor((np.arange(32) + 0.5) * 38 / 32.0), np.floor(np.arange(32) * 38 / 32.0)):
            i = np.minimum(rows.astype(int), 37)
            yield copy[i][:, i]
        return
    for top in range(7):
        for left in range(7):
            yield copy[top:top + 32, left:left + 32]

def found(pixels):
    for copy in copies.values():
        for view in views(copy):
            if np.abs(view - pixels).max() < 0.02 or np.abs(view[:, ::-1] - pixels).max() < 0.02:
                return True
    return False

seen, matched = 0, 0
for x, y in task.make_loader(splits["train"], p, dist, True, 0):
    for image in nhwc(x):
        seen += 1
        matched += found(image * sd * 255.0 + mean * 255.0)
evaluated = 0
for x, y in task.make_loader(splits["test"], p, dist, False, 0):
    x = nhwc(x)
    assert x.shape[1:] == (32, 32, 3), x.shape
    evaluated += len(x)
print(json.dumps({"seen": seen, "matched": matched, "evaluated": evaluated,
                  "train": len(splits["train"]["paths"]), "test": len(splits["test"]["paths"])}))
"""


@pytest.mark.parametrize("adapter,variant,image_name,mode", LOADERS)
def test_each_loader_reads_the_copies_and_only_crops_and_flips(engine, prepared, adapter,
                                                               variant, image_name, mode,
                                                               tmp_path):
    folder, _ = prepared
    import numpy as np
    from PIL import Image
    out = os.path.join(folder, "images-38")
    np.savez(str(tmp_path / "copies.npz"), **dict(
        (n, np.asarray(Image.open(os.path.join(out, n)))) for n in os.listdir(out)
        if n.endswith(".png")))
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(tmp_path / "copies.npz"), 0o644)
    image = catalog.lookup([image_name])[0]
    tag = build.ensure_built(image, echo=lambda *a, **k: None).image_id
    container = engine.containers.run(
        tag, ["python3", "-c", CHECK, adapter, variant, mode],
        volumes={TASKS: {"bind": "/tasks", "mode": "ro"},
                 folder: {"bind": "/data", "mode": "ro"},
                 str(tmp_path): {"bind": "/check", "mode": "ro"}},
        detach=True, shm_size="1g", **hardening.settings())
    try:
        code = container.wait(timeout=HANG_S)["StatusCode"]
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert code == 0, logs[-3000:]
    got = json.loads(logs.strip().splitlines()[-1])
    assert (got["train"], got["test"]) == (14, 4)
    assert got["seen"] == 12  # 3 complete batches of 4
    # each a crop (or, Keras, 2017's nearest resize) of its copy: no other resize on read
    assert got["matched"] == got["seen"], got
    assert got["evaluated"] == 4


def test_a_bench_run_on_the_copies_records_them(prepared, tmp_path):
    """`dlbench bench` end to end on the prepared copies (PyTorch, one device, tiny): the
    result says which images were read, with the manifest's checksum, and validates."""
    import glob
    import hashlib
    from harness.results import results
    folder, _ = prepared
    out = tmp_path / "results"
    res = CliRunner().invoke(main, ["bench", "pytorch-2.13", "--task", "densenet", "--data-dir",
                                    folder, "--results-dir", str(out), "--epochs", "1",
                                    "--image-size", "32", "--batch-size", "2"])
    found = [results.read_upgraded(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    assert len(found) == 1, res.output
    r = found[0]
    assert res.exit_code == 0 and r["status"] == "ok", (res.output, r.get("reason"))
    assert results.validate(r) == []
    images = r["data"]["images"]
    manifest = os.path.join(folder, "images-38", "manifest.json")
    assert images["read"] == "prepared" and images["folder"] == "images-38"
    assert images["manifest_sha256"] == hashlib.sha256(open(manifest, "rb").read()).hexdigest()
    assert images["resize_on_read"] is None and images["count"] == 20
    assert results.data_label(r) == "real/38"


def _nih(tmp_path, patients=3):
    folder = tmp_path / "nih"
    make_chestxray_dir(str(folder), patients=patients, per_patient=2, size=256)
    for path in [str(folder)] + [str(p) for p in folder.rglob("*")]:  # any uid reads it
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    return folder


def test_a_failed_prepare_resumes(engine, tmp_path):
    """An image the container cannot read fails the run; once readable, the rerun resumes from
    the first run's journal and copies (as root, those were given back to root after the first
    run and the rerun died with PermissionError: '/prepared/.journal')."""
    folder = _nih(tmp_path)
    names = sorted(os.listdir(str(folder / "images")))
    os.chmod(str(folder / "images" / names[-1]), 0)
    args = ["data", "prepare", "chestxray14", "--dest", str(folder), "--size", "38",
            "--workers", "1"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output
    # one line in the user's terms: the host's folder, a permission problem, no re-fetch advice
    error = first.output.strip().splitlines()[-1]
    assert "permission denied" in error and str(folder / "images") in error, first.output
    assert "re-fetch" not in error and "/data/images" not in error
    os.chmod(str(folder / "images" / names[-1]), 0o644)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "PermissionError" not in again.output
    assert "%d images, %d already prepared, 1 to resize" % (len(names), len(names) - 1) \
        in again.output, again.output
    st = os.stat(str(folder / "images-38" / ".journal"))
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())  # the caller's again


def test_sigterm_stops_a_prepare_and_leaves_nothing_running(engine, tmp_path):
    """SIGTERM: exit status 143 with one line, the container removed, the folder the
    caller's again (before: 143 in silence, the container left running, the folder nobody's)."""
    import signal
    import subprocess
    import sys
    import time
    from harness.containers import ownership
    # one "image" is a FIFO no one writes: the preparation blocks on it until the signal (a
    # real set of images is done before a test could send one: 300 in 1.4 s here)
    folder = _nih(tmp_path)
    last = sorted(os.listdir(str(folder / "images")))[-1]
    os.remove(str(folder / "images" / last))
    os.mkfifo(str(folder / "images" / last), 0o644)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "data", "prepare",
                             "chestxray14", "--dest", str(folder), "--size", "38", "--workers",
                             "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    label = "%s=data-prepare" % ownership.ONESHOT_LABEL

    def mine():
        return [c for c in engine.containers.list(all=True, filters={"label": label})
                if c.labels.get(ownership.PID_LABEL) == str(proc.pid)]
    deadline = time.time() + HANG_S
    while not mine() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert mine(), "the preparation's container never appeared"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 143, (out, err)
    assert "terminated (SIGTERM): preparation stopped, container removed" in err
    assert "Traceback" not in err
    assert mine() == []
    st = os.stat(str(folder / "images-38"))
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
