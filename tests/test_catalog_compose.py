"""compose.yaml: generated from the catalog, kept in sync, accepted by docker-compose."""
import os
import shutil
import subprocess

import pytest

from harness import catalog, compose

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_compose_yaml_is_up_to_date():
    with open(os.path.join(ROOT, "compose.yaml")) as f:
        committed = f.read()
    assert committed == compose.render(), \
        "compose.yaml is out of date with images/*/Dockerfile: run `make compose.yaml`"


def test_one_service_per_image_with_the_bench_mounts():
    text = compose.render()
    for img in catalog.discover():
        assert "\n  %s:\n" % img.name in text
        assert "image: %s" % img.tag in text
    assert "./tasks:/tasks:ro" in text and ":/data:ro" in text and "network_mode: none" in text


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_docker_compose_accepts_it():
    for argv in (["docker-compose", "config", "-q"],
                 ["docker-compose", "--profile", "gpu", "config", "-q"]):
        res = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
