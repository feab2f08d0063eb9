"""The GPU-architecture guard: the pure comparison as a table, the probe, and bench refusing
(one line) / going on with --ignore-gpu-guard, for --device gpu and for --device auto that
resolves to the GPU. The host has no GPU: DLBENCH_FAKE_GPU stands in for nvidia-smi, as
documented in harness/runs/gpu_guard.py (tests only); engine.has_gpu_runtime, the build and the
engine are stood in for (tests/helpers/fakes.py)."""
import os
import types

import pytest
from click.testing import CliRunner

from helpers.fakes import FakeContainer, FakeEngine
from harness.images import build
from harness.core import catalog
from harness import cli
from harness.containers import engine
from harness.runs import gpu_guard, provenance
from harness.launch import bench
from harness.core.errors import HarnessError

from helpers import ROOT
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
    assert "sm_61" in str(e.value) and "sm_90" in str(e.value)
    assert "--ignore-gpu-guard" in str(e.value)
    said = []
    message = gpu_guard.guard(old, ignore=True, images=images, environ=env, echo=said.append)
    assert message and said and said[0].startswith("warning: image pytorch")
    assert gpu_guard.guard(old, images=images, environ={"DLBENCH_FAKE_GPU": "6.0,P100"}) == ""
    modern = [i for i in images if i.name != "pytorch" and i.adapter == "pytorch"]
    for image in modern:
        assert gpu_guard.guard(image, images=images, environ=env) == ""
    assert [i.name for i in modern] == gpu_guard.modern_alternatives(old, images)


def test_the_2017_tensorflow_image_points_at_the_image_sharing_its_adapter():
    """images/tensorflow runs tensorflow1 only; tensorflow-2.21 runs it too (its graph variant),
    among its adapters: that is the alternative the refusal names."""
    images = catalog.discover(os.path.join(ROOT, "images"))
    old = [i for i in images if i.name == "tensorflow"][0]
    assert old.max_compute_capability == "6.1" and old.cuda == "8.0"
    assert gpu_guard.modern_alternatives(old, images) == ["tensorflow-2.21"]
    with pytest.raises(Exception) as e:
        gpu_guard.guard(old, images=images, environ={"DLBENCH_FAKE_GPU": "9.0,NVIDIA H100"})
    assert "use tensorflow-2.21" in str(e.value)


H100 = "9.0,NVIDIA H100"
REFUSAL = ("Error: image pytorch drives CUDA 8 / up to sm_61; this GPU is sm_90 (NVIDIA H100); "
           "use pytorch-2.13 or a K80/P100 host (--ignore-gpu-guard runs it anyway)")
WARNING = ("warning: image pytorch drives CUDA 8 / up to sm_61; this GPU is sm_90 (NVIDIA H100); "
           "use pytorch-2.13 or a K80/P100 host; running anyway (--ignore-gpu-guard)")


def lookup(name):
    return catalog.lookup([name], os.path.join(ROOT, "images"))[0]


def built_as(cuda):
    """The built image as the engine shows it: its org.dlbench.cuda label decides auto."""
    return types.SimpleNamespace(id="sha256:" + "cd" * 32, labels={"org.dlbench.cuda": cuda})


@pytest.fixture
def gpu_host(monkeypatch):
    """An H100 host whose engine has the NVIDIA runtime."""
    monkeypatch.setenv("DLBENCH_FAKE_GPU", H100)
    monkeypatch.setattr(engine, "has_gpu_runtime", lambda: True)


def test_auto_on_a_gpu_host_guards_a_cuda_build(gpu_host):
    old, said = lookup("pytorch"), []
    with pytest.raises(HarnessError) as e:
        bench.device_for(old, built_as("8.0"), bench.BenchOptions(device="auto"),
                         echo=lambda m, **kw: said.append(m))
    assert "Error: " + e.value.message == REFUSAL and said == []
    opts = bench.BenchOptions(device="auto", ignore_gpu_guard=True)
    got = bench.device_for(old, built_as("8.0"), opts,
                           echo=lambda m, **kw: said.append((m, kw)))
    assert got == "gpu" and said == [(WARNING, {"err": True})]


def test_auto_guards_only_what_resolves_to_the_gpu(gpu_host, monkeypatch):
    old, said = lookup("pytorch"), []

    def echo(m, **kw):
        said.append(m)

    auto = bench.BenchOptions(device="auto")
    # a CPU build of the 2017 image: auto takes the CPU, nothing to guard
    assert bench.device_for(old, built_as("none"), auto, echo) == "cpu"
    assert bench.device_for(old, built_as(""), auto, echo) == "cpu"
    # --device cpu: never the GPU
    assert bench.device_for(old, built_as("8.0"), bench.BenchOptions(device="cpu"), echo) == "cpu"
    # a modern CUDA build on the H100: the GPU, and the guard has nothing to say
    assert bench.device_for(lookup("pytorch-2.13"), built_as("12.8"), auto, echo) == "gpu"
    # the 2017 image on a P100: allowed
    monkeypatch.setenv("DLBENCH_FAKE_GPU", "6.0,Tesla P100")
    assert bench.device_for(old, built_as("8.0"), auto, echo) == "gpu"
    # no NVIDIA runtime in the engine: auto takes the CPU
    monkeypatch.setenv("DLBENCH_FAKE_GPU", H100)
    monkeypatch.setattr(engine, "has_gpu_runtime", lambda: False)
    assert bench.device_for(old, built_as("8.0"), auto, echo) == "cpu"
    assert said == []


@pytest.fixture
def stand_ins(gpu_host, monkeypatch, tmp_path):
    """The build, the engine and provenance stood in for: bench runs end to end without Docker.
    Returns the fake engine (what it started) and the builds asked for."""
    builds = []

    def ensure_built(image, **kw):
        builds.append(image.name)
        return types.SimpleNamespace(image_id="sha256:" + "cd" * 32, built=False)

    fake = FakeEngine(FakeContainer(b"no result\n", exit_code=1),
                      image_labels={"org.dlbench.cuda": "8.0"})
    monkeypatch.setattr(build, "ensure_built", ensure_built)
    monkeypatch.setattr(engine, "client", lambda: fake)
    monkeypatch.setattr(provenance, "for_image", lambda image, image_obj: {"image": image.name})
    return types.SimpleNamespace(engine=fake, builds=builds,
                                 results=str(tmp_path / "results"))


def run_bench(stand_ins, *argv):
    return CliRunner().invoke(cli.main, ["bench", "pytorch", "--synthetic", "--task", "cnn",
                                         "--results-dir", stand_ins.results] + list(argv))


def test_bench_auto_refuses_the_2017_image_on_a_newer_gpu(stand_ins):
    result = run_bench(stand_ins)  # --device auto is the default
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert lines == [REFUSAL], result.output
    assert stand_ins.builds == ["pytorch"] and stand_ins.engine.started == []


def test_bench_auto_with_ignore_gpu_guard_warns_once_and_runs_on_the_gpu(stand_ins):
    result = run_bench(stand_ins, "--ignore-gpu-guard")
    assert result.output.count(WARNING) == 1, result.output
    assert "device gpu" in result.output
    [args] = stand_ins.engine.started
    assert args["device_requests"] and args["command"][args["command"].index("--device") + 1] \
        == "gpu"
    assert result.exit_code == 1  # the stand-in container wrote no result: a failed run


def test_bench_device_gpu_refuses_before_building(stand_ins):
    result = run_bench(stand_ins, "--device", "gpu")
    assert result.exit_code == 1
    assert [l for l in result.output.splitlines() if l.strip()] == [REFUSAL], result.output
    assert stand_ins.builds == [] and stand_ins.engine.started == []
    forced = run_bench(stand_ins, "--device", "gpu", "--ignore-gpu-guard")
    assert forced.output.count(WARNING) == 1, forced.output  # guarded once, before the build
    assert stand_ins.builds == ["pytorch"] and len(stand_ins.engine.started) == 1


def test_bench_has_no_force_option(stand_ins):
    result = run_bench(stand_ins, "--force")
    assert result.exit_code == 2
    assert "No such option" in result.output and "--force" in result.output
    assert stand_ins.builds == []
