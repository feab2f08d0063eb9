"""The columns other than PyTorch (every current image's adapter, discovered) without Docker.

Static checks (no framework needed): image pins, labels against the framework modules'
variants, the Keras variant -> backend map. Runs through tasks/run.py on tiny data where the framework is
importable by this Python or by $DLBENCH_FRAMEWORK_PYTHON (e.g. a venv with tensorflow-cpu,
keras, jax, flax, optax, torch); skipped otherwise: the engine tests (test_engine_frameworks.py)
run the same inside the images."""
import json
import os
import re
import subprocess
import sys

import pytest

from helpers import HANG_S, image
from harness.core import catalog, taskfiles

from helpers.taskfiles import declared

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
# the images built here (not the 2017 ones), by adapter (an image may run several: its LABEL
# lists them), as the catalog finds them
IMAGES = dict((adapter, img.name) for img in catalog.discover(os.path.join(ROOT, "images"))
              if img.era == "current" for adapter in img.adapters if adapter != "pytorch")
# name==version, or name===version (exactly that string: refuses a wheelhouse's +cpu build)
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z,-]+\])?===?[0-9][A-Za-z0-9.+]*$")


@pytest.mark.parametrize("adapter", sorted(IMAGES))
def test_image_declares_the_adapter_and_every_task(adapter):
    img = image(IMAGES[adapter])
    assert adapter in img.adapters
    # every task the image's adapters have a file for (caffe2: no RNN, as 2017 had none;
    # tensorflow-2.21: densenet is tensorflow's, not tensorflow1's), this adapter's among them
    everyone = set(t for a in img.adapters for t in taskfiles.load(a, TASKS).tasks())
    assert img.tasks == tuple(t for t in taskfiles.task_names(TASKS) if t in everyone)
    assert set(taskfiles.load(adapter, TASKS).tasks()) <= set(img.tasks)
    assert {"cnn", "inference"} <= set(img.tasks)
    assert img.problems(TASKS) == []
    assert "cpu" in img.devices


@pytest.mark.parametrize("adapter", sorted(IMAGES))
def test_every_label_variant_is_declared_and_every_task_runs_the_first(adapter):
    img = image(IMAGES[adapter])
    fw = taskfiles.load(adapter, TASKS)
    assert set(img.variants) <= set(img.offered_variants()), img.variants
    mine = [v for v in img.variants if img.adapter_for(v) == adapter]  # this adapter's, in order
    assert mine and set(mine) <= set(fw.variant_names()), (adapter, img.variants)
    for task in img.tasks:
        assert img.variants[0] in img.offered_variants(task), task
        if task in fw.tasks():
            assert mine[0] in fw.variant_names(task), task
        else:  # an adapter without the task file offers no variant for it
            assert fw.variant_names(task) == [], task


@pytest.mark.parametrize("adapter", sorted(IMAGES))
def test_requirements_are_exact_pins(adapter):
    folder = os.path.join(ROOT, "images", IMAGES[adapter])
    files = [f for f in os.listdir(folder) if f.startswith("requirements")]
    # a CPU build by default; one requirements.txt where the image has only one build
    assert "requirements-cpu.txt" in files or files == ["requirements.txt"]
    for name in files:
        for line in open(os.path.join(folder, name)):
            line = line.split("#", 1)[0].strip()
            if line:
                assert PIN.match(line), "%s: %r is not an exact pin" % (name, line)


def test_images_stay_small():
    """CPU builds only: no CUDA wheels in the default requirements."""
    for name in IMAGES.values():
        folder = os.path.join(ROOT, "images", name)
        default = ("requirements-cpu.txt" if os.path.isfile(os.path.join(folder,
                   "requirements-cpu.txt")) else "requirements.txt")
        text = open(os.path.join(folder, default)).read()
        assert "nvidia-" not in text and "tensorflow==" not in text, name
        assert "--no-cache-dir" in open(os.path.join(ROOT, "images", name, "Dockerfile")).read()
    keras = open(os.path.join(ROOT, "images", "keras-3.15", "requirements-cpu.txt")).read()
    assert "torch==2.13.0+cpu" in keras


def test_keras_backend_follows_the_variant():
    fw = taskfiles.load("keras3", TASKS)
    assert fw.variant_names(device="cpu") == ["tensorflow", "tensorflow-tuned",
                                              "tensorflow-steps", "jax", "torch"]
    assert fw.variant_names(device="gpu") == fw.variant_names()
    # issue 29: the rows train with fit once an epoch; one variant keeps train_on_batch
    assert [v["name"] for v in fw.variants if v.get("loop") == "steps"] == ["tensorflow-steps"]
    for v in fw.variants:  # set by run.py before keras is imported
        assert v["env"]["KERAS_BACKEND"] == v["name"].split("-")[0]
        assert (v["env"].get("TF_ENABLE_ONEDNN_OPTS") == "1") == v["name"].endswith("-tuned")
        # GPU math modes: never on the CPU, never beside a 2017 (fp32) number
        if v["name"].endswith(("-tf32", "-mixed-bf16")):
            assert v["devices"] == ["gpu"] and v["row"] is None


def test_tensorflow_tuned_switches_onednn_on_before_import():
    fw = taskfiles.load("tensorflow", TASKS)
    assert fw.variant_names(device="cpu") == ["reference", "tuned"]
    assert fw.variant_names() == ["reference", "tuned", "tf32"]
    assert fw.variant("tuned")["env"] == {"TF_ENABLE_ONEDNN_OPTS": "1"}
    assert fw.variant("reference")["env"] == {}


def test_theano_openmp_is_set_for_the_tasks_it_helps_and_added_to_the_callers_flags(
        monkeypatch):
    """A variant's task_env adds settings for some tasks only (Theano's OpenMP: faster CNN and
    inference, slower GRU, measured in frameworks/theano.py); THEANO_FLAGS the caller set (the
    2017 image's CPU runs: device=cpu) are kept, the variant's flag after them, once."""
    monkeypatch.syspath_prepend(TASKS)  # runtime/ and frameworks/, as run.py finds them
    from runtime import adapters
    monkeypatch.delenv("THEANO_FLAGS", raising=False)
    for adapter, name in (("theano", "tuned"), ("keras2", "theano-tuned"),
                          ("lasagne", "lasagne-tuned")):
        fw = adapters.framework(adapter)
        tuned = adapters.variant(fw, name, "cnn")
        assert adapters.variant_env(fw, tuned, "cpu", "cnn")["THEANO_FLAGS"] == "openmp=True"
        if "rnn" in fw.VARIANTS[0].get("tasks", ("rnn",)):
            assert "THEANO_FLAGS" not in adapters.variant_env(fw, tuned, "cpu", "rnn")
            assert adapters.variant_env(fw, tuned, "cpu", "inference")["THEANO_FLAGS"] == \
                "openmp=True"
        reference = adapters.variant(fw, adapters.variant_names(fw, "cnn")[0], "cnn")
        assert "THEANO_FLAGS" not in adapters.variant_env(fw, reference, "cpu", "cnn")
    fw = adapters.framework("theano")
    monkeypatch.setenv("THEANO_FLAGS", "device=cpu,floatX=float32")
    env = adapters.variant_env(fw, adapters.variant(fw, "tuned", "cnn"), "cpu", "cnn")
    assert env["THEANO_FLAGS"] == "device=cpu,floatX=float32,openmp=True"
    monkeypatch.setenv("THEANO_FLAGS", env["THEANO_FLAGS"])  # run.py sets it twice: no repeat
    assert adapters.variant_env(fw, adapters.variant(fw, "tuned", "cnn"), "cpu", "cnn")[
        "THEANO_FLAGS"] == "device=cpu,floatX=float32,openmp=True"


def test_tensorflow_graph_is_the_tensorflow1_adapter_beside_the_same_row():
    """TensorFlow 1's program (tensorflow1: placeholders, a Session) is the tensorflow-2.21
    image's `graph` variant and the 2017 image's only one; both TensorFlow programs stand beside
    2017's Tensorflow row, under the framework's one name."""
    tf1, tf2 = taskfiles.load("tensorflow1", TASKS), taskfiles.load("tensorflow", TASKS)
    assert tf1.variant_names() == ["graph"] and tf1.variant("graph")["env"] == {}
    assert tf1.name == tf2.name == "tensorflow"
    assert tf1.reference_row("graph") == tf2.reference_row("reference") == "Tensorflow"
    modern, old = image("tensorflow-2.21"), image("tensorflow")
    assert modern.adapters == ("tensorflow", "tensorflow1")
    assert [modern.adapter_for(v) for v in modern.variants] == [
        "tensorflow", "tensorflow", "tensorflow", "tensorflow1"]
    assert old.adapters == ("tensorflow1",) and old.variants == ("graph",)
    assert old.era == "2017" and old.label("python") == "3.5" and old.problems(TASKS) == []


PYTHON = os.environ.get("DLBENCH_FRAMEWORK_PYTHON") or sys.executable


def available(adapter):
    code = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None " \
           "for m in %r))" % (taskfiles.load(adapter, TASKS).packages,)
    return subprocess.call([PYTHON, "-c", code]) == 0


RUNS = [(t, a, v) for a in sorted(IMAGES) for t in taskfiles.load(a, TASKS).tasks()
        for v in taskfiles.load(a, TASKS).variant_names(t, "cpu")]


@pytest.mark.slow
@pytest.mark.parametrize("task,adapter,variant", RUNS)
def test_runs_on_tiny_data_on_this_host(task, adapter, variant, tmp_path):
    if not available(adapter):
        pytest.skip("%s needs %s on this host"
                    % (adapter, ", ".join(taskfiles.load(adapter, TASKS).packages)))
    out = tmp_path / "r.json"
    limit = "32" if task == "inference" else "128"
    tiny = []
    if task == "densenet":  # DenseNet-121 at 224x224 is seconds per image on a CPU
        limit, tiny = "16", ["--image-size", "32", "--batch-size", "4"]
    proc = subprocess.run([PYTHON, os.path.join(TASKS, "run.py"), task,
                           "--adapter", adapter, "--variant", variant, "--synthetic",
                           "--epochs", "1", "--limit", limit, "--out", str(out)] + tiny,
                          capture_output=True, text=True, timeout=HANG_S)
    r = json.load(open(str(out)))
    assert proc.returncode == 0 and r["status"] == "ok", r.get("reason")
    assert r["variant"] == variant
    settings = r["env"]["adapter_settings"]
    if adapter == "keras3":
        assert settings["backend"] == variant.split("-")[0]
    if variant.endswith("tuned") and adapter in ("tensorflow", "keras3"):
        assert settings["onednn"] is True, settings
    if task == "cnn":
        assert r["model"]["parameters"] == 3441592
        assert settings["layout"] == declared("cnn", adapter, "SETTINGS")["layout"]
        assert 0.0 <= r["metrics"]["test_accuracy"] <= 1.0
    elif task == "densenet":
        assert r["model"]["parameters"] == 6968206
        assert r["metrics"]["test_auc"] is None or 0.0 <= r["metrics"]["test_auc"] <= 1.0
    elif task == "rnn":
        # what the task file declares (TensorFlow: 2017's trainable initial state too), else
        # embedding 3,750,000 + dense 202 + the GRU in the framework's bias convention
        expected = declared("rnn", adapter, "PARAMETERS")
        if expected is not None:
            assert r["model"]["parameters"] == expected
        else:
            assert r["model"]["parameters"] in (3750202 + 67800, 3750202 + 68100)
    else:
        assert r["model"]["parameters"] == declared("inference", adapter, "PARAMETERS")
        assert r["metrics"]["features"] == 2048
        assert settings["layout"] == declared("inference", adapter, "SETTINGS")["layout"]
