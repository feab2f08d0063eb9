"""A bench probes the peak once per (image, adapter, variant, device): the first run's record
goes to the later runs of the same key in their environment (tasks/run.py reuses it), never a
reused record, never across keys."""
import json
import types

from harness.launch import bench


def spec():
    return types.SimpleNamespace(hardening={"environment": {"HOME": "/tmp"}})


def test_the_first_runs_peak_is_handed_to_the_later_ones(tmp_path):
    peaks = {}
    opts = types.SimpleNamespace(results_root=str(tmp_path))
    run = types.SimpleNamespace(dir=str(tmp_path / "id" / "pytorch-2.13" / "cnn-r1"))
    key = ("sha256:ab", "pytorch", "reference", "cpu")
    measured = {"gflops": 60.0, "device": "cpu", "seconds": 3.0}
    bench.keep_peak(peaks, key, {"peak": measured}, run, opts)
    s = spec()
    bench.hand_on_peak(s, peaks.get(key))
    handed = json.loads(s.hardening["environment"][bench.PEAK_ENV])
    assert handed == dict(measured, run="id/pytorch-2.13/cnn-r1")
    assert s.hardening["environment"]["HOME"] == "/tmp"
    # a later run's (reused) record never replaces it; another key gets nothing
    bench.keep_peak(peaks, key, {"peak": dict(measured, gflops=1.0, reused={})}, run, opts)
    assert peaks[key]["gflops"] == 60.0
    # a later run's own probe (check_peak's second) replaces it only when higher
    bench.keep_peak(peaks, key, {"peak": dict(measured, gflops=50.0)}, run, opts)
    assert peaks[key]["gflops"] == 60.0
    later = types.SimpleNamespace(dir=str(tmp_path / "id" / "pytorch-2.13" / "cnn-r2"))
    bench.keep_peak(peaks, key, {"peak": dict(measured, gflops=70.0)}, later, opts)
    assert peaks[key] == dict(measured, gflops=70.0, run="id/pytorch-2.13/cnn-r2")
    other = spec()
    bench.hand_on_peak(other, peaks.get(("sha256:ab", "pytorch", "tuned", "cpu")))
    assert bench.PEAK_ENV not in other.hardening["environment"]


def test_a_failed_probe_is_not_handed_on(tmp_path):
    peaks = {}
    opts = types.SimpleNamespace(results_root=str(tmp_path))
    run = types.SimpleNamespace(dir=str(tmp_path / "r"))
    bench.keep_peak(peaks, "k", {"peak": None, "peak_error": "RuntimeError: no"}, run, opts)
    assert peaks == {}


def test_the_harness_and_the_runner_name_the_same_variable():
    import ast
    import os
    from helpers import TASKS
    tree = ast.parse(open(os.path.join(TASKS, "run.py")).read())
    names = [n.value.value for n in tree.body if isinstance(n, ast.Assign)
             and getattr(n.targets[0], "id", None) == "PEAK_ENV"]
    assert names == [bench.PEAK_ENV]
