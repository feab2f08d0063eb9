"""Adapter vs plain loop for the R-Keras(TF) column (rkeras): a script, not a test.

The sibling of bench/framework_vs_plain.py (which hands rkeras to it). It re-executes itself
under R (the adapter's HOST, as tasks/run.py does: R hosts Python through reticulate) and, in
that one process, alternating A/B over --pairs rounds, trains the CNN and the GRU by
  adapter  tasks/<task>/rkeras.R through tasks/runtime/protocol.train (the runner's clock and
           loop, fit once an epoch, the arrays crossing into R and back to NumPy each epoch);
  plain    2017's KerasR_TF_CNN / _RNN training cell written again in R (bench/rkeras_plain.R):
           the data already R arrays, one fit over every epoch, timed by R's system.time.
It also times the bridge on its own: an epoch's arrays into R (reticulate's conversion) and
back to NumPy (keras_array), per 1,000 examples. Prints images/s of each side and the ratio
adapter/plain (goal >= 0.95). Synthetic inputs of the real shapes: every figure is
synthetic-data throughput on this machine's CPU. Run it inside the image:

    docker run --rm -v "$PWD":/src:ro -w /src dlbench/r-keras \
        python3 bench/rkeras_vs_plain.py rkeras --examples 3200 --pairs 3
"""
import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported
from vs_plain import ROOT, adapter_train, alternate, clock, cpu_name, ratio_text  # noqa: E402


def bridge_seconds(R, x, repeats=3):
    """Seconds per 1,000 examples for x to cross into R and back to NumPy as keras_array does:
    the best of `repeats`."""
    best = None
    for _ in range(repeats):
        start = clock()
        R["keras_array"](x)
        t = clock() - start
        best = t if best is None else min(best, t)
    return best * 1000.0 / len(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framework", choices=["rkeras"])
    ap.add_argument("--variant", default=None, help="ignored: rkeras has one variant")
    ap.add_argument("--examples", type=int, default=3200, help="training examples per task")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=3, help="adapter/plain rounds, alternating")
    ap.add_argument("--task", action="append", choices=["cnn", "rnn"],
                    help="cnn, rnn [default: both]")
    ap.add_argument("--images", type=int, help="ignored (framework_vs_plain.py's option)")
    ap.add_argument("--skip-inference", action="store_true", help="ignored: training only")
    args = ap.parse_args(argv)

    from runtime import adapters
    fw = adapters.framework("rkeras")
    adapters.rehost(fw)  # from here on this script runs inside R
    from common import params
    from runtime import data
    for task in args.task or ["cnn", "rnn"]:
        fw, module, settings = adapters.start(task, "rkeras", "reference", "cpu", 0)
        plain = fw.host.source([os.path.join(ROOT, "tasks", "common", "rkeras.R"),
                                   os.path.join(ROOT, "bench", "rkeras_plain.R")])
        print("# rkeras/%s vs the notebook's R fit cell: %s, synthetic data, CPU, %s, Keras %s, "
              "%s" % (task, platform.node(), cpu_name(), fw.version(), settings["host"]))
        p = params.for_task(task, args.epochs)
        if task == "cnn":
            d = data.synthetic_cifar(0, limit=args.examples)
            for k in ("x_train", "x_test"):  # NHWC on the CPU: run.py converts, so do we
                d[k] = d[k].transpose(0, 2, 3, 1).copy()
            x, y = d["x_train"], d["y_train"].astype(np.int32)
        else:
            d = data.synthetic_imdb(p, 0, limit=args.examples)
            x, y = d["x_train"].astype(np.int32), d["y_train"].astype(np.int32)
        print("# bridge: %.4f s per 1,000 examples into R and back to NumPy (%s %s)"
              % (bridge_seconds(plain, x), x.dtype, x.shape[1:]))
        runs, plain_runs = alternate(
            args.pairs, lambda: adapter_train(module, p, d, by_epoch=True),
            lambda: float(plain["plain_" + task](x, y, args.epochs, p["batch_size"])),
            lambda i, a, b: "%s round %d: adapter %.2f img/s, plain %.2f img/s"
                            % (task, i, a, b))
        print("%s: %s" % (task, ratio_text(runs, plain_runs)))


if __name__ == "__main__":
    main()
