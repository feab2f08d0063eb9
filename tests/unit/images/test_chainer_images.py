"""The two Chainer images, read as text (no build, no engine): images/chainer (the 2017 stack:
Chainer 3.4.0 + CuPy 2.4.0, Python 3.5, on the CUDA 8 devel base its recipe makes) and
images/chainer-7.8 (Chainer 7.8.1 built from its sdist with numpy 1.26.4 and setuptools < 70,
--no-build-isolation), as `dlbench doctor` and the catalog read them."""
import os
import re

from harness.images import buildneeds
from harness.core import catalog

from helpers import ROOT
IMAGES = os.path.join(ROOT, "images")


def test_the_2017_chainer_image_declares_its_needs():
    needs = buildneeds.image_needs(os.path.join(IMAGES, "chainer"), images_root=IMAGES)
    assert needs.python == "3.5"
    pins = dict((p, v) for p, v, _ in needs.pins)
    assert pins["chainer"] == "3.4.0" and pins["cupy"] == "2.4.0"  # as Chainer_CNN printed
    assert pins["numpy"] == "1.14.1" and pins["pip"] == "20.3.4"
    # CuPy 2.4.0 compiles at install time: the CUDA 8 devel base, made by its recipe on top of
    # the runtime base's recipe, down to ubuntu:16.04
    assert needs.bases == ["dlbench/cuda:8.0-cudnn6-devel-ubuntu16.04"]
    assert [r.name for r in needs.recipes] == ["cuda-8.0-cudnn6-devel"]
    devel = needs.recipes[0]
    assert devel.bases == ["dlbench/cuda:8.0-cudnn6-runtime-ubuntu16.04"]
    assert [r.name for r in devel.recipes] == ["cuda-8.0-cudnn6"]
    assert devel.recipes[0].bases == ["ubuntu:16.04"]


def test_the_2017_chainer_image_is_labelled_2017_and_runs_the_chainer_adapter():
    img = [i for i in catalog.discover(IMAGES) if i.name == "chainer"][0]
    assert img.era == "2017" and img.adapter == "chainer"
    assert set(img.tasks) == {"cnn", "rnn", "inference"}


def test_the_devel_recipe_installs_nvcc_and_the_cudnn_header_pinned():
    with open(os.path.join(IMAGES, "_base", "cuda-8.0-cudnn6-devel", "Dockerfile")) as f:
        text = f.read()
    assert re.search(r"^#\s*provides:\s*dlbench/cuda:8.0-cudnn6-devel-ubuntu16.04$", text, re.M)
    assert '"cuda-core-${CUDA_PKG_VERSION}"' in text  # nvcc
    assert '"libcudnn6-dev=${CUDNN_VERSION}-1+cuda8.0"' in text


def test_chainer_78_builds_its_sdist_against_old_numpy_and_setuptools():
    folder = os.path.join(IMAGES, "chainer-7.8")
    needs = buildneeds.image_needs(folder, images_root=IMAGES)
    pins = dict((p, v) for p, v, _ in needs.pins)
    assert pins["chainer"] == "7.8.1" and pins["numpy"] == "1.26.4"
    assert int(pins["setuptools"].split(".")[0]) < 70
    with open(os.path.join(folder, "Dockerfile")) as f:
        text = f.read()
    run = text[text.index("RUN python3 -m venv"):]
    build = run.index("grep -E '^(numpy|setuptools|wheel)=='")  # first these pins...
    rest = run.index("--no-build-isolation")  # ...then chainer, built against them
    assert build < rest
    for name in ("requirements-cpu.txt", "requirements-cuda.txt"):
        with open(os.path.join(folder, name)) as f:
            names = [line.split("==")[0] for line in f if not line.startswith("#")]
        assert {"numpy", "setuptools", "wheel", "chainer"} <= set(names), name
    img = [i for i in catalog.discover(IMAGES) if i.name == "chainer-7.8"][0]
    assert img.era == "current" and img.adapter == "chainer"
    assert set(img.variants) == {"reference", "tuned"}
