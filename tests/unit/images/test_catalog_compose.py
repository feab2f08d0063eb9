"""compose.yaml: generated from the catalog by `make compose.yaml` and committed (a clone has it),
never stale, with one service per image, accepted by docker-compose."""
import os
import shutil
import subprocess

import pytest

from helpers import HANG_S
from harness.core import catalog
from harness.images import compose

from helpers import ROOT


def test_the_committed_compose_yaml_is_the_generated_one():
    path = os.path.join(ROOT, "compose.yaml")
    assert os.path.isfile(path), "no compose.yaml: run `make compose.yaml` and commit it"
    with open(path) as f:
        assert f.read() == compose.compose_yaml(), "compose.yaml is stale: run `make compose.yaml`"


def test_one_service_per_image_with_the_bench_mounts():
    text = compose.compose_yaml()
    for img in catalog.discover():
        assert "\n  %s:\n" % img.name in text
        assert "image: %s" % img.tag in text
    assert "./tasks:/tasks:ro" in text and ":/data:ro" in text and "network_mode: none" in text


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_docker_compose_accepts_it(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(compose.compose_yaml())
    for argv in (["docker-compose", "-f", str(path), "--project-directory", ROOT, "config", "-q"],
                 ["docker-compose", "-f", str(path), "--project-directory", ROOT, "--profile",
                  "gpu", "config", "-q"]):
        res = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=HANG_S)
        assert res.returncode == 0, res.stderr


def test_services_get_the_hardened_settings_bench_gives():
    from harness.containers import hardening
    text = compose.compose_yaml()
    h = hardening.settings()
    assert "  read_only: true\n" in text and "  cap_drop: [ALL]\n" in text
    assert "  security_opt: [no-new-privileges]\n" in text
    assert "  pids_limit: %d\n" % h["pids_limit"] in text
    for path, opts in h["tmpfs"].items():
        assert "    - %s:%s\n" % (path, opts) in text
    assert '      max-size: "%s"\n' % h["log_config"]["config"]["max-size"] in text
    assert '"${DLBENCH_UID:-65534}:${DLBENCH_GID:-65534}"' in text  # never root by default
