"""The Caffe2 and CNTK columns, statically (no framework needed).

CNTK cannot run on any image built here (no wheel for a Python a current base provides), so its
adapter is checked by reading it: the parts the 2017 notebooks fixed (cuDNN's GRU on a GPU, plain
momentum, the ResNet-50 count) and the 2017 images that would run it. Caffe2 runs in the
engine tests (caffe2-torch1.8); here: what its image and the 2017 image declare."""
import ast
import os
import re

import pytest

from harness.core import catalog, taskfiles

from helpers.taskfiles import declared

from helpers import ROOT, image
TASKS = os.path.join(ROOT, "tasks")


def tree(task, adapter):
    path = os.path.join(TASKS, task, adapter + ".py")
    with open(path) as f:
        return ast.parse(f.read(), path)


def calls(t):
    """(called name, {keyword: constant}) for every call in the tree."""
    for node in ast.walk(t):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            kw = dict((k.arg, k.value.value) for k in node.keywords
                      if k.arg and isinstance(k.value, ast.Constant))
            yield name, kw


def test_cntk_has_every_task_and_caffe2_no_rnn():
    assert taskfiles.load("cntk", TASKS).tasks() == ("cnn", "rnn", "inference")
    assert taskfiles.load("caffe2", TASKS).tasks() == ("cnn", "inference")
    for name in ("caffe2", "caffe2-torch1.8"):
        assert image(name).tasks == ("cnn", "inference")


def test_cntk_rnn_runs_cudnn_gru_on_a_gpu_and_recurrence_on_the_cpu():
    found = dict(calls(tree("rnn", "cntk")))
    assert found["optimized_rnnstack"].get("recurrent_op") == "gru"
    assert found["optimized_rnnstack"].get("bidirectional") is False
    assert "Recurrence" in found and "GRU" in found and "last" in found
    assert found["adam"].get("unit_gain") is False


def test_cntk_cnn_plain_momentum_and_glorot():
    found = dict(calls(tree("cnn", "cntk")))
    assert found["momentum_sgd"].get("unit_gain") is False
    assert "glorot_uniform" in found and "cross_entropy_with_softmax" in found


def test_inference_counts_are_declared():
    # the same structure count as torchvision's resnet50 (bias-free convolutions, four numbers
    # per batch-norm channel); the engine tests check caffe2's against the built network
    assert declared("inference", "cntk", "PARAMETERS") == 23561152
    assert declared("inference", "caffe2", "PARAMETERS") == 23561152


@pytest.mark.parametrize("name,python,base", [
    ("caffe2", "3.5", "dlbench/cuda:8.0-cudnn6-devel-ubuntu16.04"),
    ("cntk", "3.5", "dlbench/cuda:9.0-cudnn7-runtime-ubuntu16.04"),
])
def test_2017_images_pin_their_sources_by_required_sha256(name, python, base):
    img = image(name)
    assert img.era == "2017" and img.labels["org.dlbench.python"] == python
    with open(os.path.join(ROOT, "images", name, "Dockerfile")) as f:
        text = f.read()
    _, args = catalog.parse_dockerfile(text)
    assert args["BASE"] == base
    urls = [k for k in args if k.endswith("_URL")]
    assert urls
    for key in urls:  # a sha256 argument for each, empty: never an invented hash
        assert args[key[:-4] + "_SHA256"] == ""
    assert "sha256sum -c" in text


def test_caffe2_torch18_pins_the_last_wheel_with_caffe2():
    img = image("caffe2-torch1.8")
    assert img.era == "current" and img.labels["org.dlbench.python"] == "3.9"
    assert tuple(img.devices) == ("cpu",)
    with open(os.path.join(ROOT, "images", "caffe2-torch1.8", "requirements.txt")) as f:
        pins = re.findall(r"^([a-z-]+)==(\S+)", f.read(), re.M)
    assert ("torch", "1.8.1") in pins and ("protobuf", "3.20.3") in pins
