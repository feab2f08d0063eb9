"""End to end on the real Docker engine for the TensorFlow 2, Keras 3 and Flax images: build (or
reuse) each through the harness, run all three tasks on tiny synthetic data in containers with
`dlbench bench`, check the results. Keras runs all tasks on its reference backend (tensorflow)
and the CNN on jax and torch too: the other backends' RNN and inference runs cost about two CI
minutes more (measured here: 210 s for all nine Keras runs, about 100 s for these five); the
host tests (test_tasks_frameworks.py) cover them where a venv is given. Each image's CNN, on
every variant, must also learn a real-format CIFAR-10 tarball whose labels are visible in the
pixels (50 SGD steps, measured here to reach test accuracy 1.0 in every framework; chance is
0.1): a speed figure from a model that cannot learn means nothing. Needs an engine."""
import glob
import os

import pytest
from click.testing import CliRunner

from harness import build, catalog, results
from harness.cli import main

from datagen import make_cifar_tarball

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# image -> (adapter, variants, more variants for the CNN, pip line of the framework, GRU weights)
IMAGES = {
    "tensorflow-2.21": ("tensorflow2", ("reference",), ("tuned",), "tensorflow-cpu==2.21.0",
                        68100),
    "keras-3.15": ("keras3", ("tensorflow",), ("tensorflow-tuned", "jax", "torch"),
                   "keras==3.15.1", 68100),
    "flax-0.12": ("flax", ("reference",), (), "flax==0.12.8", 67800),
}


def opts(variants):
    return [a for v in variants for a in ("--variant", v)]


@pytest.fixture(scope="module", params=sorted(IMAGES))
def image(request, engine):
    img = catalog.lookup([request.param])[0]
    done = build.ensure_built(img, echo=lambda *a, **k: None)
    return img, done


def bench(out, name, *argv):
    res = CliRunner().invoke(main, ["bench", name, "--results-dir", str(out), "--synthetic",
                                    "--epochs", "1"] + list(argv))
    found = [results.read(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    return res, found


def test_all_tasks_on_tiny_synthetic_data(image, tmp_path):
    img, built = image
    adapter, variants, more, pin, gru = IMAGES[img.name]
    assert img.adapter == adapter and img.variants == variants + more
    out = tmp_path / "results"
    res, _ = bench(out, img.name, "--task", "cnn", "--limit", "128", *opts(variants + more))
    assert res.exit_code == 0, res.output
    res, _ = bench(out, img.name, "--task", "rnn", "--limit", "128", *opts(variants))
    assert res.exit_code == 0, res.output
    res, found = bench(out, img.name, "--task", "inference", "--limit", "32", *opts(variants))
    assert res.exit_code == 0, res.output
    assert sorted((r["task"], r["variant"]) for r in found) == sorted(
        [("cnn", v) for v in variants + more] + [(t, v) for t in ("rnn", "inference")
                                                 for v in variants])
    for r in found:
        assert results.validate(r) == [], (r["task"], r["variant"])
        assert r["status"] == "ok" and r["data"]["source"] == "synthetic", r.get("reason")
        assert r["provenance"]["image"] == img.name
        assert r["provenance"]["image_id"] == built.image_id
        freeze = [line.replace("_", "-").lower() for line in r["provenance"]["pip_freeze"]]
        assert any(line.startswith(pin) for line in freeze), pin
        settings = r["env"]["adapter_settings"]
        if adapter == "keras3":
            assert settings["backend"] == r["variant"].replace("-tuned", "")
        if r["variant"].endswith("tuned"):  # TensorFlow's oneDNN kernels, switched on
            assert settings["onednn"] is True, settings
        if r["task"] == "cnn":
            assert r["model"]["parameters"] == 3441592
            assert r["model"]["layout"] == "NHWC"
            assert r["timings"]["warmup_steps"] == 1 and r["timings"]["images_per_second"] > 0
        elif r["task"] == "rnn":
            assert r["model"]["parameters"] == 3750000 + 202 + gru
        else:
            assert r["model"]["parameters"] == 23508032
            assert r["metrics"]["features"] == 2048 and r["model"]["layout"] == "NHWC"


def test_unknown_variant_is_refused_before_running(image, tmp_path):
    img, _ = image
    res, found = bench(tmp_path / "results", img.name, "--task", "cnn", "--variant", "nope")
    assert res.exit_code != 0 and found == []


def test_cnn_learns_a_learnable_problem(image, tmp_path):
    """50 SGD steps (320 images per batch file, 2 epochs) on real-format CIFAR-10 files whose
    label decides a bright band: every variant's accuracy must be far above chance (0.1). Catches
    a wrong layout, labels out of step with images, a dead dropout/training switch, a wrong loss."""
    img, _ = image
    adapter, variants, more, _, _ = IMAGES[img.name]
    data = tmp_path / "data"
    data.mkdir()
    make_cifar_tarball(str(data / "cifar-10-python.tar.gz"), n=320, learnable=True)
    out = tmp_path / "results"
    res = CliRunner().invoke(main, ["bench", img.name, "--results-dir", str(out), "--task", "cnn",
                                    "--data-dir", str(data), "--epochs", "2"]
                             + opts(variants + more))
    found = [results.read(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    assert res.exit_code == 0, res.output
    assert sorted(r["variant"] for r in found) == sorted(variants + more)
    for r in found:
        assert r["status"] == "ok" and r["data"]["source"] == "real", r.get("reason")
        assert r["timings"]["batches"] == 50
        assert r["metrics"]["test_accuracy"] > 0.5, (r["variant"], r["metrics"])
