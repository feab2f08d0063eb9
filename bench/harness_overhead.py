"""Harness overhead on this machine (a script, not a test): prints figures.

1. No-rebuild decision: wall time of `dlbench build IMAGE` when nothing changed (the image
   exists; the CLI assembles the context, hashes it and finds the built image), median of N.
2. Overhead per run: wall time of `dlbench bench IMAGE --task cnn --synthetic --epochs 1
   --limit 256` (warm image) minus the time the task measured inside the container
   (train_seconds + eval_seconds), median of N. Goal: <= 2 s. Also split into
   harness+engine (wall - container lifetime) and in-container start-up (lifetime - measured:
   Python, the framework import, synthetic data, warm-up), and wall minus the run.py process's
   own wall time (timings.process_seconds): what the harness alone adds.

    python bench/harness_overhead.py [--image pytorch-2.13] [--n 5]

Synthetic data: every figure here comes from synthetic inputs of the real shapes.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLBENCH = [sys.executable, "-m", "harness.cli"]


def timed(argv):
    t0 = time.perf_counter()
    res = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(argv), res.stdout, res.stderr))
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="pytorch-2.13")
    ap.add_argument("--n", type=int, default=5)
    args = ap.parse_args()

    print("warming up: dlbench build %s" % args.image)
    timed(DLBENCH + ["build", args.image])

    decide = [timed(DLBENCH + ["build", args.image]) for _ in range(args.n)]
    print("no-rebuild decision (dlbench build, nothing changed): median %.2f s  (%s)"
          % (statistics.median(decide), ", ".join("%.2f" % d for d in decide)))

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        timed(DLBENCH + ["bench", args.image, "--task", "cnn", "--synthetic", "--epochs", "1",
                         "--limit", "256", "--results-dir", os.path.join(tmp, "warm")])
        for i in range(args.n):
            out = os.path.join(tmp, "r%d" % i)
            wall = timed(DLBENCH + ["bench", args.image, "--task", "cnn", "--synthetic",
                                    "--epochs", "1", "--limit", "256", "--results-dir", out])
            with open(glob.glob(os.path.join(out, "*", args.image, "cnn-r1",
                                             "result.json"))[0]) as f:
                r = json.load(f)
            t = r["timings"]
            measured = (t.get("train_seconds") or 0) + (t.get("eval_seconds") or 0)
            lifetime = r["provenance"].get("container_seconds") or float("nan")
            process = t.get("process_seconds") or float("nan")
            rows.append((wall, measured, lifetime, process))
            print("  run %d: wall %.2f s, container %.2f s, run.py process %.2f s, "
                  "measured in container %.2f s" % (i + 1, wall, lifetime, process, measured))
    over = [w - m for w, m, _, _ in rows]
    harness = [w - c for w, _, c, _ in rows]
    startup = [c - m for _, m, c, _ in rows]
    beyond_task = [w - p for w, _, _, p in rows]
    print("overhead per run (wall - measured): median %.2f s  (goal <= 2 s)"
          % statistics.median(over))
    print("  of which harness + engine (wall - container lifetime): median %.2f s"
          % statistics.median(harness))
    print("  of which in-container start-up (lifetime - measured): median %.2f s"
          % statistics.median(startup))
    print("harness overhead beyond the task process (wall - run.py process_seconds): "
          "median %.2f s  (goal <= 2 s)" % statistics.median(beyond_task))


if __name__ == "__main__":
    main()
