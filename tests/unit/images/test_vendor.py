"""dlbench vendor's host-side parts: the requirement files a build's arguments pick, the wheel
tags of a Python version (the archive itself, built and used with the engine:
tests/engine/test_engine_vendor.py)."""
import os

from helpers import IMAGES
from harness.images import vendor


def test_requirement_files_follow_build_args():
    from harness.images import buildneeds
    root = IMAGES
    needs = buildneeds.image_needs(os.path.join(root, "pytorch-2.13"), images_root=root)
    assert needs.requirement_files({}) == ["requirements-cpu.txt"]
    assert needs.requirement_files({"TORCH_BUILD": "cuda"}) == ["requirements-cuda.txt"]
    old = buildneeds.image_needs(os.path.join(root, "pytorch"), images_root=root)
    assert old.requirement_files({}) == ["requirements.txt"]


def test_python_tags():
    assert vendor.python_tags("3.5") == ("3.5", "cp35m")
    assert vendor.python_tags("3.11") == ("3.11", "cp311")
