"""End to end on the real Docker engine for the TensorFlow 2, Keras 3 and Flax images: build (or
reuse) each through the harness, run all three tasks on tiny synthetic data in containers with
`dlbench bench`, check the results. Keras runs all tasks on its reference backend (tensorflow)
and the CNN on jax and torch too: the other backends' RNN and inference runs cost about two CI
minutes more (measured here: 210 s for all nine Keras runs, about 100 s for these five); the
host tests (test_tasks_frameworks.py) cover them where a venv is given. Needs an engine."""
import glob
import os

import pytest
from click.testing import CliRunner

from harness import build, catalog, results
from harness.cli import main

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# image -> (adapter, variants, more variants for the CNN, pip line of the framework, GRU weights)
IMAGES = {
    "tensorflow-2.21": ("tensorflow2", ("reference",), (), "tensorflow-cpu==2.21.0", 68100),
    "keras-3.15": ("keras3", ("tensorflow",), ("jax", "torch"), "keras==3.15.1", 68100),
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
            assert settings["backend"] == r["variant"]
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
