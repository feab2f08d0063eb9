"""tasks/run.py checks the model before timing it: an inference task file declares the
parameter count of its framework's own ResNet-50 (PARAMETERS), and a model of another count, or a
task file that declares none, fails the run with both counts named. A stand-in adapter takes the
framework's place (the real ones run in test_tasks_*.py and the engine tests)."""
import importlib.util
import json
import os
import types

import numpy as np
import pytest

from helpers import ROOT


@pytest.fixture
def runner():
    spec = importlib.util.spec_from_file_location("dlbench_task_runner",
                                                  os.path.join(ROOT, "tasks", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stand_in(count, declared):
    calls = []
    adapter = types.SimpleNamespace(
        SETTINGS={"layout": "NHWC", "network": "a stand-in"},
        build_model=lambda p: "model",
        count_parameters=lambda model: count,
        load_weights=lambda model, path: calls.append(("load", path)),
        predict=lambda model, x: calls.append(("predict", len(x))) or np.zeros(
            (len(x), 2048), np.float32),
        sync=lambda model: None)
    if declared is not None:
        adapter.PARAMETERS = declared
    return adapter, calls


def run(runner, monkeypatch, tmp_path, adapter):
    monkeypatch.setattr(runner.adapters, "start",
                        lambda task, name, variant, device, seed: (None, adapter,
                                                                   dict(adapter.SETTINGS)))
    monkeypatch.setattr(runner.envprobe, "probe", lambda fw: {"python": "3", "numpy": "1"})
    out = tmp_path / "r.json"
    code = runner.main(["inference", "--adapter", "keras3", "--limit", "32", "--out", str(out)])
    return code, json.load(open(str(out)))


def test_the_declared_count_passes_and_is_recorded(runner, monkeypatch, tmp_path, capsys):
    adapter, calls = stand_in(23587712, 23587712)
    code, r = run(runner, monkeypatch, tmp_path, adapter)
    assert code == 0 and r["status"] == "ok", r.get("reason")
    assert r["model"]["parameters"] == 23587712
    assert r["env"]["adapter_settings"]["network"] == "a stand-in"
    assert ("predict", 32) in calls


def test_another_count_fails_before_timing_naming_both(runner, monkeypatch, tmp_path, capsys):
    adapter, calls = stand_in(23508032, 23587712)
    code, r = run(runner, monkeypatch, tmp_path, adapter)
    assert code == 1 and r["status"] == "failed"
    assert r["reason"] == ("AssertionError: inference model has 23508032 parameters, "
                           "tasks/inference/keras3.py declares PARAMETERS = 23587712")
    assert calls == [] and not r["timings"].get("seconds_per_1000_images")
    assert r["model"]["parameters"] == 23508032  # what was counted stays in the result


def test_a_task_file_without_a_declaration_fails(runner, monkeypatch, tmp_path, capsys):
    adapter, calls = stand_in(23587712, None)
    code, r = run(runner, monkeypatch, tmp_path, adapter)
    assert code == 1 and "tasks/inference/keras3.py declares no PARAMETERS" in r["reason"]
    assert calls == []


def test_a_training_task_file_that_declares_a_count_is_held_to_it(runner, monkeypatch,
                                                                  tmp_path, capsys):
    """tasks/rnn/tensorflow.py declares 2017's count (trainable initial state included)."""
    trained = []
    adapter = types.SimpleNamespace(
        SETTINGS={"layout": "NTC"}, PARAMETERS=3824702, build_model=lambda p: "model",
        count_parameters=lambda model: 3818302,
        build_trainer=lambda model, p: trained.append("trainer"))
    monkeypatch.setattr(runner.adapters, "start",
                        lambda task, name, variant, device, seed: (None, adapter,
                                                                   dict(adapter.SETTINGS)))
    monkeypatch.setattr(runner.envprobe, "probe", lambda fw: {"python": "3", "numpy": "1"})
    out = tmp_path / "r.json"
    code = runner.main(["rnn", "--adapter", "tensorflow", "--synthetic", "--limit", "64",
                        "--out", str(out)])
    r = json.load(open(str(out)))
    assert code == 1 and trained == []
    assert r["reason"] == ("AssertionError: rnn model has 3818302 parameters, "
                           "tasks/rnn/tensorflow.py declares PARAMETERS = 3824702")


def test_a_local_run_without_memory_gets_the_hosts_memory_less_a_reserve(tmp_path):
    from harness.launch import bench
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemFree:        1000 kB\n")
    assert bench.default_memory(str(meminfo)) == "%dm" % (24576000 // 1024 - 1024)
    meminfo.write_text("MemTotal:        1048576 kB\n")  # 1 GiB: half of it, not nothing
    assert bench.default_memory(str(meminfo)) == "512m"
    assert bench.default_memory(str(tmp_path / "none")) is None
    local = bench.BenchOptions(results_root=str(tmp_path), data_dir=str(tmp_path))
    assert local.memory == bench.default_memory()
    assert local.memory_source == "default: the host's memory less 1 GiB"
    given = bench.BenchOptions(memory="3g", results_root=str(tmp_path), data_dir=str(tmp_path))
    assert (given.memory, given.memory_source) == ("3g", "--memory")
    slurm = bench.BenchOptions(on="slurm", results_root=str(tmp_path), data_dir=str(tmp_path))
    assert slurm.memory is None  # the nodes' memory is not this host's


def test_a_peak_handed_on_by_the_harness_is_reused_and_marked(runner):
    """tasks/run.py PEAK_ENV: the record of an earlier run's probe (same image, adapter,
    variant, device) replaces the probe, marked reused with where it came from."""
    run = runner
    earlier = {"gflops": 61.0, "method": "torch.mm", "device": "cpu", "matrix": [2048] * 3,
               "seconds": 3.2, "run": "20261207-000000-abcd/pytorch-2.13/cnn-r1"}
    got = run.reused_peak("cpu", {run.PEAK_ENV: json.dumps(earlier)})
    assert got["gflops"] == 61.0 and got["seconds"] == 0.0 and "run" not in got
    assert got["reused"] == {"from": earlier["run"], "probe_seconds": 3.2}
    assert run.reused_peak("gpu", {run.PEAK_ENV: json.dumps(earlier)}) is None  # other device
    assert run.reused_peak("cpu", {}) is None
    assert run.reused_peak("cpu", {run.PEAK_ENV: "{not json"}) is None


def _tiny_peak_handed_on(monkeypatch, runner):
    monkeypatch.setenv(runner.PEAK_ENV, json.dumps(
        {"gflops": 1e-9, "method": "a slow moment", "device": "cpu", "matrix": [2048] * 3,
         "seconds": 3.0, "run": "20261207-000000-abcd/x/inference-r1"}))


def test_a_run_above_its_handed_on_peak_probes_again_and_keeps_the_higher(
        runner, monkeypatch, tmp_path):
    """tasks/run.py check_peak: an achieved rate above the peak re-runs the probe after the
    timed span; the higher probe is the peak, the MFU is recomputed, checks.peak says so."""
    from harness.results import results
    _tiny_peak_handed_on(monkeypatch, runner)
    probes = []
    monkeypatch.setattr(runner.peak, "measure", lambda fw, device, threads=None: probes.append(
        device) or {"gflops": 1e12, "method": "again", "device": device, "matrix": [2048] * 3,
                    "seconds": 3.0})
    code, r = run(runner, monkeypatch, tmp_path, stand_in(23587712, 23587712)[0])
    assert code == 0 and r["status"] == "ok", r.get("reason")
    assert probes == ["cpu"]  # once, after the timed span
    assert r["peak"]["method"] == "again" and r["mfu"]["measured_peak_gflops"] == 1e12
    assert 0 < r["mfu"]["of_measured_peak"] < 1
    check = r["checks"]["peak"]
    assert check["first_gflops"] == 1e-9 and check["first_reused"] is True
    assert check["reprobed_gflops"] == 1e12 and check["flagged"] is False
    assert not [e for e in results.validate(r) if e.startswith("checks")]
    assert not [n for n in results.check_notes(r) if "peak" in n]


def test_a_run_above_both_probes_is_flagged_and_its_mfu_not_reported(
        runner, monkeypatch, tmp_path):
    from harness.results import report, results

    def fails(fw, device, threads=None):
        raise RuntimeError("no BLAS")
    _tiny_peak_handed_on(monkeypatch, runner)
    monkeypatch.setattr(runner.peak, "measure", fails)
    code, r = run(runner, monkeypatch, tmp_path, stand_in(23587712, 23587712)[0])
    assert code == 0 and r["status"] == "ok", r.get("reason")
    check = r["checks"]["peak"]
    assert check["flagged"] is True and check["reprobed_gflops"] is None
    assert check["error"] == "RuntimeError: no BLAS"
    assert r["mfu"]["of_measured_peak"] > 1  # kept as measured, flagged beside it
    assert not [e for e in results.validate(r) if e.startswith("checks")]
    assert "MFU above the measured peak, probed twice: no measure" in results.check_notes(r)
    entry = report.Entry(str(tmp_path / "r.json"), r, report.load_reference(), str(tmp_path))
    assert entry.mfu is None and "above the measured peak" in entry.mfu_reason
