"""`dlbench bench --latency`: the inference runs' command asks run.py for request latency; the
other tasks' commands do not (run.py refuses --latency for them)."""
import subprocess
import sys
import types

from harness.core import catalog
from harness.launch import bench
from helpers import HANG_S, TASKS


def command(tmp_path, task, **options):
    image = catalog.lookup(["pytorch-2.13"])[0]
    image_obj = types.SimpleNamespace(id="sha256:" + "ab" * 32, labels={})
    opts = bench.BenchOptions(synthetic=True, results_root=str(tmp_path / "results"),
                              data_dir=str(tmp_path / "data"), run_id="20260101-000000-abcd",
                              **options)
    return bench.Run(image, image_obj, task, "reference", 1, "cpu", opts, {}).command()


def test_latency_goes_to_the_inference_runs_only(tmp_path):
    assert "--latency" in command(tmp_path, "inference", latency=True)
    assert "--latency" not in command(tmp_path, "cnn", latency=True)
    assert "--latency" not in command(tmp_path, "inference")
    cmd = command(tmp_path, "inference", latency_requests=20)  # implies --latency
    assert cmd[cmd.index("--latency-requests") + 1] == "20" and "--latency" in cmd


def test_run_py_refuses_latency_for_training_tasks(tmp_path):
    res = subprocess.run([sys.executable, TASKS + "/run.py", "cnn", "--adapter", "pytorch",
                          "--synthetic", "--latency", "--out", str(tmp_path / "r.json")],
                         capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode == 2 and "--latency is an inference option" in res.stderr
