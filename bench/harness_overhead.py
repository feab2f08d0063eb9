"""Harness overhead on this machine (a script, not a test): prints figures.

1. CLI start-up: wall time of `dlbench --version` (Python and the CLI's imports), median of N.
2. No-rebuild decision: wall time of `dlbench build IMAGE` when nothing changed (the image
   exists; the CLI assembles the context, hashes it and finds the built image), median of N.
3. Overhead per run: wall time of `dlbench bench IMAGE --task cnn --synthetic --epochs 1
   --limit 256` (warm image) minus the time the task measured inside the container
   (train_seconds + eval_seconds), median of N. Also split into harness+engine (wall -
   container lifetime) and in-container start-up (lifetime - measured: Python, the framework
   import, synthetic data, the peak probe, warm-up), and wall minus the run.py process's own
   wall time (timings.process_seconds): what the harness alone adds (goal <= 1 s).
4. The README's quick start on a built image (its `dlbench bench` line, read from README.md:
   CNN, RNN, inference in three containers), --quickstart times: its wall time
   (goal < 60 s), the harness's share per run ((wall - the runs' process seconds) / runs) and
   the peak probe's seconds in all (it runs once, the later runs reuse its record).
5. --profile: one single-run bench (3.'s command) under cProfile, and the cumulative seconds of
   the harness's and the Docker SDK's calls that took 0.05 s or more: where 3.'s time goes.

    python bench/harness_overhead.py [--image pytorch-2.13] [--n 5] [--quickstart 2] [--profile]

Synthetic data: every figure here comes from synthetic inputs of the real shapes.
"""
import argparse
import glob
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLBENCH = [sys.executable, "-m", "harness.cli"]
ONE_RUN = ["--task", "cnn", "--synthetic", "--epochs", "1", "--limit", "256"]


def quick_start():
    """The README's quick start: (image, options) of its first `dlbench bench IMAGE ...` line."""
    with open(os.path.join(ROOT, "README.md")) as f:
        for line in f:
            if line.startswith("dlbench bench "):
                return line.split()[2], line.split()[3:]
    sys.exit("README.md has no `dlbench bench` line")


def timed(argv):
    t0 = time.perf_counter()
    res = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(argv), res.stdout, res.stderr))
    return took


def listing(values):
    return ", ".join("%.2f" % v for v in values)


def results_of(out):
    found = []
    for path in sorted(glob.glob(os.path.join(out, "*", "*", "*", "result.json"))):
        with open(path) as f:
            found.append(json.load(f))
    return found


def one_run(args, tmp):
    rows = []
    timed(DLBENCH + ["bench", args.image] + ONE_RUN + ["--results-dir", os.path.join(tmp, "w")])
    for i in range(args.n):
        out = os.path.join(tmp, "r%d" % i)
        wall = timed(DLBENCH + ["bench", args.image] + ONE_RUN + ["--results-dir", out])
        r = results_of(out)[0]
        t = r["timings"]
        measured = (t.get("train_seconds") or 0) + (t.get("eval_seconds") or 0)
        lifetime = r["provenance"].get("container_seconds") or float("nan")
        process = t.get("process_seconds") or float("nan")
        probe = (r.get("peak") or {}).get("seconds") or 0.0
        rows.append((wall, measured, lifetime, process))
        print("  run %d: wall %.2f s, container %.2f s, run.py process %.2f s (peak probe "
              "%.2f s), measured in container %.2f s"
              % (i + 1, wall, lifetime, process, probe, measured))
    over = [w - m for w, m, _, _ in rows]
    harness = [w - c for w, _, c, _ in rows]
    startup = [c - m for _, m, c, _ in rows]
    beyond_task = [w - p for w, _, _, p in rows]
    print("overhead per run (wall - measured): median %.2f s" % statistics.median(over))
    print("  of which harness + engine (wall - container lifetime): median %.2f s"
          % statistics.median(harness))
    print("  of which in-container start-up (lifetime - measured): median %.2f s"
          % statistics.median(startup))
    print("harness overhead beyond the task process (wall - run.py process_seconds): "
          "median %.2f s  (%s; goal <= 1 s)"
          % (statistics.median(beyond_task), listing(beyond_task)))


def time_quick_start(args, tmp):
    image, options = quick_start()
    walls, per_run, probes = [], [], []
    for i in range(args.quickstart):
        out = os.path.join(tmp, "q%d" % i)
        wall = timed(DLBENCH + ["bench", image] + options + ["--results-dir", out])
        found = results_of(out)
        process = sum(r["timings"].get("process_seconds") or 0 for r in found)
        probe = sum((r.get("peak") or {}).get("seconds") or 0 for r in found)
        walls.append(wall)
        per_run.append((wall - process) / len(found))
        probes.append(probe)
        print("  quick start %d: %d runs (%s), wall %.2f s, run.py processes %.2f s, peak "
              "probes %.2f s" % (i + 1, len(found), ", ".join(r["task"] for r in found), wall,
                                 process, probe))
    print("README quick start (dlbench bench %s %s): median wall %.2f s (%s; goal < 60 s); "
          "harness per run (wall - processes) / runs: median %.2f s; peak probes: median "
          "%.2f s" % (image, " ".join(options), statistics.median(walls),
                      listing(walls), statistics.median(per_run), statistics.median(probes)))


def profile(args, tmp):
    prof = os.path.join(tmp, "bench.prof")
    wall = timed([sys.executable, "-m", "cProfile", "-o", prof, "-m", "harness.cli", "bench",
                  args.image] + ONE_RUN + ["--results-dir", os.path.join(tmp, "p")])
    process = results_of(os.path.join(tmp, "p"))[0]["timings"].get("process_seconds")
    print("profile of one run (main thread; wall %.2f s, run.py process %.2f s): cumulative "
          "seconds of the harness's and the Docker SDK's calls >= 0.05 s" % (wall, process))
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (path, line, name), (_, _, _, cum, _) in stats.stats.items():
        for part in ("/harness/", "/docker/"):
            if part in path and cum >= 0.05:
                rows.append((cum, path[path.index(part) + 1:], line, name))
    for cum, path, line, name in sorted(rows, reverse=True):
        print("  %6.2f s  %s:%d %s" % (cum, path, line, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="pytorch-2.13")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--quickstart", type=int, default=2,
                    help="times to run the README's quick start (0: not at all)")
    ap.add_argument("--profile", action="store_true", help="profile one run (cProfile)")
    args = ap.parse_args()

    startup = [timed(DLBENCH + ["--version"]) for _ in range(args.n)]
    print("CLI start-up (dlbench --version): median %.2f s  (%s)"
          % (statistics.median(startup), listing(startup)))

    print("warming up: dlbench build %s" % args.image)
    timed(DLBENCH + ["build", args.image])
    decide = [timed(DLBENCH + ["build", args.image]) for _ in range(args.n)]
    print("no-rebuild decision (dlbench build, nothing changed): median %.2f s  (%s)"
          % (statistics.median(decide), listing(decide)))

    with tempfile.TemporaryDirectory() as tmp:
        one_run(args, tmp)
        if args.quickstart:
            time_quick_start(args, tmp)
        if args.profile:
            profile(args, tmp)


if __name__ == "__main__":
    main()
