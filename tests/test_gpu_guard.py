"""The GPU-architecture guard: the pure comparison as a table, the probe, and the CLI refusing
(one line) / going on with --force. The host has no GPU: DLBENCH_FAKE_GPU stands in for
nvidia-smi, as documented in harness/gpu_guard.py (tests only)."""
import os

import pytest
from click.testing import CliRunner

from harness import catalog, cli, gpu_guard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA8 = {"org.dlbench.cuda": "8.0", "org.dlbench.max-compute-capability": "6.1"}
CUDA9 = {"org.dlbench.cuda": "9.0", "org.dlbench.max-compute-capability": "7.0"}
MODERN = {"org.dlbench.cuda": "12.8", "org.dlbench.max-compute-capability": ""}


@pytest.mark.parametrize("labels,gpu,allowed", [
    (CUDA8, "3.7", True),    # K80
    (CUDA8, "6.0", True),    # P100
    (CUDA8, "6.1", True),    # GTX 1080: the limit itself
    (CUDA8, "7.0", False),   # V100
    (CUDA8, "8.0", False),   # A100
    (CUDA8, "9.0", False),   # H100
    (CUDA8, (10, 0), False),
    (CUDA9, "7.0", True),
    (CUDA9, "7.5", False),
    (MODERN, "9.0", True),   # no limit declared
    (CUDA8, None, True),     # unknown GPU: the guard only refuses what it knows
    ({"cuda": "8.0", "max-compute-capability": "6.1"}, "9.0", False),  # short keys
])
def test_compare_table(labels, gpu, allowed):
    ok, message = gpu_guard.compare(labels, gpu, "pytorch")
    assert ok is allowed
    assert (message == "") is allowed
    if not allowed:
        assert "\n" not in message


def test_refusal_message_is_the_one_line():
    ok, message = gpu_guard.compare(CUDA8, "9.0", "pytorch", "NVIDIA H100 80GB HBM3",
                                    ["pytorch-2.13"])
    assert not ok
    assert message == ("image pytorch drives CUDA 8 / up to sm_61; this GPU is sm_90 "
                       "(NVIDIA H100 80GB HBM3); use pytorch-2.13 or a K80/P100 host")
    ok, message = gpu_guard.compare(CUDA9, "8.0", "pytorch-0.4")
    assert message == ("image pytorch-0.4 drives CUDA 9 / up to sm_70; this GPU is sm_80; "
                       "use a K80/P100/V100 host")


@pytest.mark.parametrize("text,cap", [
    ("6.1", (6, 1)), ("sm_61", (6, 1)), ("61", (6, 1)), ("9.0", (9, 0)), ("sm_90", (9, 0)),
    ("10.0", (10, 0)), ("sm_100", (10, 0)), ("12.0", (12, 0)), ("", None), ("none", None),
    (None, None),
])
def test_parse_capability(text, cap):
    assert gpu_guard.parse_capability(text) == cap


def test_parse_capability_rejects_garbage():
    with pytest.raises(ValueError):
        gpu_guard.parse_capability("pascal")


@pytest.mark.parametrize("name,cap", [
    ("Tesla K80", (3, 7)), ("Tesla P100-PCIE-16GB", (6, 0)), ("Tesla V100-SXM2-16GB", (7, 0)),
    ("NVIDIA A100-SXM4-40GB", (8, 0)), ("NVIDIA A10", (8, 6)), ("NVIDIA H100 80GB HBM3", (9, 0)),
    ("GeForce GTX 1080 Ti", (6, 1)), ("Mystery GPU", None),
])
def test_capability_from_name_for_old_drivers(name, cap):
    assert gpu_guard.capability_of_name(name) == cap


def _fake_nvidia_smi(folder, script):
    path = folder / "nvidia-smi"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_probe_runs_nvidia_smi(tmp_path, monkeypatch):
    # a stand-in nvidia-smi executable on PATH (the real one needs a GPU)
    _fake_nvidia_smi(tmp_path, 'case "$1" in --query-gpu=compute_cap,name) '
                               'echo "9.0, NVIDIA H100 80GB HBM3"; echo "9.0, NVIDIA H100 80GB HBM3";; '
                               '*) exit 9;; esac\n')
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("DLBENCH_FAKE_GPU", raising=False)
    assert gpu_guard.probe() == ((9, 0), "NVIDIA H100 80GB HBM3")


def test_probe_old_driver_without_compute_cap(tmp_path, monkeypatch):
    # drivers before 510 reject compute_cap: the probe asks for the name and maps it
    _fake_nvidia_smi(tmp_path, 'case "$1" in --query-gpu=name) echo "Tesla P100-PCIE-16GB";; '
                               '*) echo "Field compute_cap is not a valid field" >&2; exit 2;; '
                               'esac\n')
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("DLBENCH_FAKE_GPU", raising=False)
    assert gpu_guard.probe() == ((6, 0), "Tesla P100-PCIE-16GB")


def test_probe_without_gpu_and_with_the_test_variable(tmp_path):
    assert gpu_guard.probe({"PATH": str(tmp_path)}) == (None, None)
    assert gpu_guard.probe({"DLBENCH_FAKE_GPU": "6.0,Tesla P100"}) == ((6, 0), "Tesla P100")


def test_the_2017_image_declares_pascal_and_the_guard_uses_it():
    images = catalog.discover(os.path.join(ROOT, "images"))
    old = [i for i in images if i.name == "pytorch"][0]
    assert old.max_compute_capability == "6.1" and old.cuda == "8.0"
    env = {"DLBENCH_FAKE_GPU": "9.0,NVIDIA H100"}
    with pytest.raises(Exception) as e:
        gpu_guard.guard(old, images=images, environ=env)
    assert "sm_61" in str(e.value) and "sm_90" in str(e.value) and "--force" in str(e.value)
    said = []
    message = gpu_guard.guard(old, force=True, images=images, environ=env, echo=said.append)
    assert message and said and said[0].startswith("warning: image pytorch")
    assert gpu_guard.guard(old, images=images, environ={"DLBENCH_FAKE_GPU": "6.0,P100"}) == ""
    modern = [i for i in images if i.name != "pytorch" and i.adapter == "pytorch"]
    for image in modern:
        assert gpu_guard.guard(image, images=images, environ=env) == ""
    assert [i.name for i in modern] == gpu_guard.modern_alternatives(old, images)


def test_cli_refuses_with_one_line_and_force_goes_on(monkeypatch):
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)
    monkeypatch.setenv("DLBENCH_FAKE_GPU", "9.0,NVIDIA H100")
    result = CliRunner().invoke(cli.main, ["bench", "pytorch", "--device", "gpu", "--synthetic"])
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1, result.output
    assert lines[0] == ("Error: image pytorch drives CUDA 8 / up to sm_61; this GPU is sm_90 "
                        "(NVIDIA H100); use pytorch-2.13 or a K80/P100 host "
                        "(--force runs it anyway)")
    # --force: the guard lets it through (what fails next is this GPU-less host's engine, or
    # the build; either way not the guard).
    forced = CliRunner().invoke(cli.main, ["bench", "pytorch", "--device", "gpu", "--synthetic",
                                           "--force"])
    assert "drives CUDA 8 / up to sm_61" in forced.output
    assert "running anyway (--force)" in forced.output
    assert "(--force runs it anyway)" not in forced.output
