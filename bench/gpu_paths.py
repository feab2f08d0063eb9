"""Run every adapter's GPU path on a GPU box, no Docker (a script, not a test): prints a table.

For each adapter whose framework this Python can import (tasks/frameworks/*.py PACKAGES), each
task it has and each variant it runs on the GPU (the reference, tuned, TF32, mixed precision),
runs `tasks/run.py TASK --adapter A --variant V --device gpu --synthetic` on tiny synthetic
data, and prints status, the layout and precision the result recorded (TensorFlow's and Keras's
CNN, TensorFlow's DenseNet: NCHW on a GPU, as 2017), the GPU's name, and the speed (a smoke run:
synthetic, a few batches; not a benchmark figure). A failed run prints its reason.

    python bench/gpu_paths.py                       every adapter importable here
    python bench/gpu_paths.py pytorch flax --limit 640 --timeout 300

Exit status 1 when any run failed.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")
sys.path.insert(0, TASKS)

from common import params  # noqa: E402
from runtime import adapters  # noqa: E402


def importable(fw):
    return all(importlib.util.find_spec(p) is not None for p in fw.PACKAGES[:1])


def runs(names):
    for adapter in names:
        fw = adapters.framework(adapter)
        if not importable(fw):
            print("%s: %s not importable here; skipped" % (adapter, fw.PACKAGES[0]))
            continue
        for task in params.TASKS:
            if adapter not in adapters.adapters_for(task):
                continue
            for v in fw.VARIANTS:
                if task in v.get("tasks", (task,)) and "gpu" in v.get("devices", ("gpu",)):
                    yield adapter, task, v["name"]


def run_one(adapter, task, variant, limit, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        try:
            proc = subprocess.run(
                [sys.executable, os.path.join(TASKS, "run.py"), task, "--adapter", adapter,
                 "--variant", variant, "--device", "gpu", "--synthetic", "--epochs", "1",
                 "--limit", str(limit if task != "inference" else min(limit, 128)), "--out", out],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "reason": "timed out after %d s" % timeout}
        if not os.path.exists(out):
            return {"status": "failed", "reason": proc.stderr.decode()[-300:]}
        with open(out) as f:
            return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("adapters", nargs="*", help="adapters (default: every one)")
    ap.add_argument("--limit", type=int, default=640, help="examples per split")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run")
    args = ap.parse_args()
    names = args.adapters or sorted(
        f[:-3] for f in os.listdir(os.path.join(TASKS, "frameworks"))
        if f.endswith(".py") and not f.startswith("_"))
    failed = 0
    print("%-10s %-10s %-22s %-7s %-6s %-28s %-22s %s" % (
        "ADAPTER", "TASK", "VARIANT", "STATUS", "LAYOUT", "PRECISION", "GPU",
        "IMG/S (synthetic)"))
    for adapter, task, variant in runs(names):
        r = run_one(adapter, task, variant, args.limit, args.timeout)
        env = r.get("env") or {}
        settings = env.get("adapter_settings") or {}
        precision = settings.get("precision") or {}
        ips = (r.get("timings") or {}).get("images_per_second")
        ok = r.get("status") == "ok"
        failed += not ok
        print("%-10s %-10s %-22s %-7s %-6s %-28s %-22s %s" % (
            adapter, task, variant, r.get("status"), str(settings.get("layout") or "")[:6],
            str(precision.get("dtype", ""))[:28],
            str(env.get("gpu") or "")[:22],
            ("%.0f" % ips) if ok and ips else (r.get("reason") or "")[:200]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
