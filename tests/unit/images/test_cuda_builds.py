"""Every current-era image that can run on a GPU builds its CUDA variant by build argument (as
2017's rows ran on K80/P100 GPUs): read from the files, no build. A `<X>_BUILD` ARG names the
requirements file (requirements-cpu.txt by default, requirements-<build>.txt for a CUDA build:
cuda, cu112, ...), the image
declares the gpu device and labels its CUDA version from the CUDA ARG, and a CUDA requirement
that a host wheelhouse's CPU wheel could shadow (torch's 2.13.0+cpu satisfies `==2.13.0`, and pip
prefers it) is pinned with `===`."""
import os
import re

import pytest

from harness.images import buildneeds
from harness.core import catalog

from helpers import ROOT
CURRENT = [img for img in catalog.discover(os.path.join(ROOT, "images")) if img.era == "current"]
GPU_IMAGES = [img for img in CURRENT if "gpu" in img.devices]


def cuda_requirements(img):
    return sorted(f for f in os.listdir(img.folder)
                  if f.startswith("requirements-") and f.endswith(".txt")
                  and f != "requirements-cpu.txt")


def build_arg(img):
    needs = buildneeds.image_needs(img.folder)
    names = [a for a in needs.args if a.endswith("_BUILD")]
    return needs, names


def test_the_frameworks_of_2017_gpu_rows_all_have_a_gpu_build():
    names = {img.name for img in GPU_IMAGES}
    for expected in ("pytorch-2.13", "tensorflow-2.21", "keras-3.15", "flax-0.12"):
        assert expected in names, "%s declares no gpu device" % expected


@pytest.mark.parametrize("img", GPU_IMAGES, ids=lambda i: i.name)
def test_a_build_argument_picks_the_cuda_requirements(img):
    needs, names = build_arg(img)
    assert len(names) == 1, "%s: one <X>_BUILD ARG expected, found %s" % (img.name, names)
    arg = names[0]
    assert needs.args[arg] == "cpu", "the default build is the CPU one"
    assert needs.args.get("CUDA") == "none"
    assert needs.requirement_files() == ["requirements-cpu.txt"]
    gpu_files = cuda_requirements(img)
    assert gpu_files, "%s: no requirements-<cuda build>.txt" % img.name
    for name in gpu_files:  # requirements-cuda.txt, requirements-cu112.txt, ...
        build = name[len("requirements-"):-len(".txt")]
        assert needs.requirement_files({arg: build}) == [name]
    with open(os.path.join(img.folder, "Dockerfile")) as f:
        text = f.read()
    assert re.search(r'org\.dlbench\.cuda="\$\{CUDA\}"', text), "the cuda label follows ARG CUDA"


@pytest.mark.parametrize("img", GPU_IMAGES, ids=lambda i: i.name)
def test_cuda_pins_cannot_be_shadowed_by_a_cpu_wheel(img):
    lines = []
    for name in cuda_requirements(img):
        with open(os.path.join(img.folder, name)) as f:
            lines += [line.split("#")[0].strip() for line in f]
    torch = [line for line in lines if re.match(r"torch\b(?!-|vision)", line)]
    for line in torch:
        assert line.startswith("torch==="), "%s: %s (use === so +cpu cannot match)" % (
            img.name, line)
    assert all("+cpu" not in line for line in lines)
