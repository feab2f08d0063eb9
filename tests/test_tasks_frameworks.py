"""The TensorFlow 2, Keras 3 and Flax columns without Docker.

Static checks (no framework needed): image pins, labels against the adapters' VARIANTS, the
Keras variant -> backend map. Runs through tasks/run.py on tiny data where the framework is
importable by this Python or by $DLBENCH_FRAMEWORK_PYTHON (e.g. a venv with tensorflow-cpu,
keras, jax, flax, optax, torch); skipped otherwise: the engine tests (test_engine_frameworks.py)
run the same inside the images."""
import ast
import json
import os
import re
import subprocess
import sys

import pytest

from harness import catalog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")
IMAGES = {"tensorflow2": "tensorflow-2.21", "keras3": "keras-3.15", "flax": "flax-0.12"}
NEEDS = {"tensorflow2": ("tensorflow",), "flax": ("jax", "flax", "optax"),
         "keras3": ("keras", "tensorflow", "jax", "torch")}
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z,-]+\])?==[0-9][A-Za-z0-9.+]*$")


def variants_of(task, adapter):
    path = os.path.join(TASKS, task, adapter + ".py")
    for n in ast.parse(open(path).read(), path).body:
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "VARIANTS":
            return ast.literal_eval(n.value)


def image(name):
    return catalog.load_image(os.path.join(ROOT, "images", name))


@pytest.mark.parametrize("adapter", sorted(IMAGES))
def test_image_declares_the_adapter_and_every_task(adapter):
    img = image(IMAGES[adapter])
    assert img.adapter == adapter
    assert img.tasks == ("cnn", "rnn", "inference")
    assert img.problems(TASKS) == []
    assert "cpu" in img.devices


@pytest.mark.parametrize("adapter", sorted(IMAGES))
def test_every_label_variant_is_offered_by_every_task(adapter):
    img = image(IMAGES[adapter])
    for task in img.tasks:
        offered = variants_of(task, adapter)
        assert set(img.variants) <= set(offered), (task, img.variants, offered)


@pytest.mark.parametrize("adapter", sorted(IMAGES))
def test_requirements_are_exact_pins(adapter):
    folder = os.path.join(ROOT, "images", IMAGES[adapter])
    files = [f for f in os.listdir(folder) if f.startswith("requirements")]
    assert "requirements-cpu.txt" in files
    for name in files:
        for line in open(os.path.join(folder, name)):
            line = line.split("#", 1)[0].strip()
            if line:
                assert PIN.match(line), "%s: %r is not an exact pin" % (name, line)


def test_images_stay_small():
    """CPU builds only: no CUDA wheels in the default requirements."""
    for name in IMAGES.values():
        text = open(os.path.join(ROOT, "images", name, "requirements-cpu.txt")).read()
        assert "nvidia-" not in text and "tensorflow==" not in text, name
        assert "--no-cache-dir" in open(os.path.join(ROOT, "images", name, "Dockerfile")).read()
    keras = open(os.path.join(ROOT, "images", "keras-3.15", "requirements-cpu.txt")).read()
    assert "torch==2.13.0+cpu" in keras


def test_keras_backend_follows_the_variant():
    for task in ("cnn", "rnn", "inference"):
        src = open(os.path.join(TASKS, task, "keras3.py")).read()
        tree = ast.parse(src)
        backends = [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                    and getattr(n.targets[0], "id", None) == "_BACKENDS"][0]
        assert backends["reference"] == "tensorflow"
        assert set(variants_of(task, "keras3")) == {"tensorflow", "tensorflow-tuned", "jax",
                                                    "torch"}
        for v in variants_of(task, "keras3"):
            assert backends[v] == v.replace("-tuned", "")
        # KERAS_BACKEND and the tuned variant's oneDNN switch are set before keras is imported
        assert src.index('os.environ["KERAS_BACKEND"]') < src.index("import keras")
        assert src.index('os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"') < src.index("import keras")


def test_tensorflow_tuned_switches_onednn_on_before_import():
    for task in ("cnn", "rnn", "inference"):
        src = open(os.path.join(TASKS, task, "tensorflow2.py")).read()
        assert variants_of(task, "tensorflow2") == ("reference", "tuned")
        assert (src.index('os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"')
                < src.index("import tensorflow as tf"))


PYTHON = os.environ.get("DLBENCH_FRAMEWORK_PYTHON") or sys.executable


def available(adapter):
    code = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None " \
           "for m in %r))" % (NEEDS[adapter],)
    return subprocess.call([PYTHON, "-c", code]) == 0


RUNS = [("tensorflow2", "reference"), ("tensorflow2", "tuned"), ("flax", "reference"),
        ("keras3", "tensorflow"), ("keras3", "tensorflow-tuned"), ("keras3", "jax"),
        ("keras3", "torch")]


@pytest.mark.slow
@pytest.mark.parametrize("adapter,variant", RUNS)
@pytest.mark.parametrize("task", ["cnn", "rnn", "inference"])
def test_runs_on_tiny_data_on_this_host(task, adapter, variant, tmp_path):
    if not available(adapter):
        pytest.skip("%s needs %s on this host" % (adapter, ", ".join(NEEDS[adapter])))
    out = tmp_path / "r.json"
    limit = "32" if task == "inference" else "128"
    proc = subprocess.run([PYTHON, os.path.join(TASKS, "run.py"), task,
                           "--framework", adapter, "--variant", variant, "--synthetic",
                           "--epochs", "1", "--limit", limit, "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    r = json.load(open(str(out)))
    assert proc.returncode == 0 and r["status"] == "ok", r.get("reason")
    assert r["variant"] == variant
    settings = r["env"]["adapter_settings"]
    if adapter == "keras3":
        assert settings["backend"] == variant.replace("-tuned", "")
    if variant.endswith("tuned"):
        assert settings["onednn"] is True, settings
    if task == "cnn":
        assert r["model"]["parameters"] == 3441592 and settings["layout"] == "NHWC"
        assert 0.0 <= r["metrics"]["test_accuracy"] <= 1.0
    elif task == "rnn":
        # embedding 3,750,000 + dense 202 + the GRU in the framework's bias convention
        assert r["model"]["parameters"] in (3750202 + 67800, 3750202 + 68100)
    else:
        assert r["model"]["parameters"] == 23508032
        assert r["metrics"]["features"] == 2048 and settings["layout"] == "NHWC"
