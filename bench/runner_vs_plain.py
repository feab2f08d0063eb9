"""Benchmark of the task runtime on this machine (a script, not a test): prints figures.

1. CNN: tasks/run.py (runner + PyTorch adapter) against a plain hand-written loop of the same
   CNN (bench/plain_pytorch_cnn.py), side by side, alternating A/B over --pairs rounds in fresh
   processes, same synthetic inputs size; prints images/s of each and the ratio (goal: the
   runner within 5 % of the plain loop).
2. RNN and ResNet-50 inference through tasks/run.py on synthetic data: images/s.

    python bench/runner_vs_plain.py [--epochs 1] [--limit N] [--pairs 2] [--skip-rnn] ...

Synthetic data: every figure printed here is from synthetic inputs of the real shapes. The
rounds and the ratio are bench/vs_plain.py's, shared with the other *_vs_plain scripts.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

from vs_plain import alternate, ratio_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "tasks", "run.py")
PLAIN = os.path.join(ROOT, "bench", "plain_pytorch_cnn.py")


def run_task(task, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run([sys.executable, RUN, task, "--adapter", "pytorch", "--out", out]
                       + list(extra), check=False, stdout=subprocess.DEVNULL)
        result = json.load(open(out))
    if result["status"] != "ok":
        sys.exit("%s failed: %s" % (task, result["reason"]))
    return result


def run_plain(examples, epochs, channels_last):
    cmd = [sys.executable, PLAIN, "--examples", str(examples), "--epochs", str(epochs)]
    if channels_last:
        cmd.append("--channels-last")
    return json.loads(subprocess.check_output(cmd).decode().strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1, help="CNN epochs per run (reference: 10)")
    ap.add_argument("--limit", type=int, default=None, help="CNN training examples (50000)")
    ap.add_argument("--pairs", type=int, default=2, help="runner/plain rounds, alternating")
    ap.add_argument("--variant", default="reference", choices=("reference", "tuned"))
    ap.add_argument("--skip-rnn", action="store_true")
    ap.add_argument("--skip-inference", action="store_true")
    args = ap.parse_args()
    examples = args.limit or 50000
    tuned = args.variant == "tuned"

    import torch  # only to print the version and thread count
    print("# dlbench task-runtime benchmark — synthetic data, CPU, %s, torch %s, %d threads"
          % (platform.node(), torch.__version__, torch.get_num_threads()))
    epoch_secs = []
    extra = ["--synthetic", "--epochs", str(args.epochs), "--variant", args.variant]
    if args.limit:
        extra += ["--limit", str(args.limit)]

    def runner_side():
        r = run_task("cnn", *extra)
        epoch_secs.extend(r["timings"]["epoch_seconds"])
        return r["timings"]["images_per_second"]

    runner, plain = alternate(
        args.pairs, runner_side,
        lambda: run_plain(examples, args.epochs, tuned)["images_per_second"],
        lambda i, a, b: "cnn round %d: runner %.1f img/s, plain loop %.1f img/s" % (i, a, b),
        names=("runner", "plain"))
    rm, pm = statistics.median(runner), statistics.median(plain)
    print("CNN  (%s, %d examples x %d epochs, synthetic): runner %.1f img/s, plain %.1f img/s "
          "(medians); %s; per-epoch %.1f s"
          % (args.variant, examples, args.epochs, rm, pm,
             ratio_text(runner, plain, "runner/plain"), statistics.median(epoch_secs)))
    if not args.skip_rnn:
        r = run_task("rnn", "--synthetic", "--epochs", "1")
        print("RNN  (25000 examples x 1 epoch, synthetic): %.1f img/s, epoch %.1f s, "
              "test accuracy %.3f (synthetic)"
              % (r["timings"]["images_per_second"], r["timings"]["epoch_seconds"][0],
                 r["metrics"]["test_accuracy"]))
    if not args.skip_inference:
        r = run_task("inference", "--variant", args.variant)
        print("INFER (ResNet-50, %d random images, batch 32): %.2f img/s, %.1f s/1000 images"
              % (r["metrics"]["images"], r["timings"]["images_per_second"],
                 r["timings"]["seconds_per_1000_images"]))


if __name__ == "__main__":
    main()
