"""Chainer adapter vs a plain Chainer loop, in one process (a script, not a test): prints figures.

The sibling of bench/framework_vs_plain.py for Chainer, whose arrays are NCHW (that script
feeds NHWC). Times alternating A/B over --pairs rounds, in the chainer-7.8 image:
  CNN        the adapter through tasks/runtime/protocol.train (the runner's clock and loop)
             against a plain hand-written Chainer training loop of the same CNN (a Chain of
             links, MomentumSGD, cleargrads/backward/update; written again here, not taken from
             the adapter);
  inference  the adapter through protocol.infer against calling ResNet50Layers(x,
             layers=['pool5']) directly on the same model, in test mode without backprop.
Prints images/s of each and the ratio adapter/plain (goal: >= 0.95). Synthetic inputs of the
real shapes; every figure printed here is synthetic-data throughput on this machine's CPU.

    docker run --rm --network none -v "$PWD":/src:ro -w /tmp dlbench/chainer-7.8 \\
        python /src/bench/chainer_vs_plain.py [--variant tuned] [--examples 640] [--pairs 3]
The loop, the rounds and the ratio are bench/vs_plain.py's.
"""
import argparse
import importlib
import os
import platform
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported
from vs_plain import (adapter_infer, adapter_train, alternate, cpu_name,  # noqa: E402
                      forward_rate, ratio_text, train_loop)


def plain_cnn_chainer(x, y, epochs, bs, seed):
    import chainer
    import chainer.functions as F
    import chainer.links as L
    np.random.seed(seed)

    class Net(chainer.Chain):
        def __init__(self):
            super(Net, self).__init__()
            with self.init_scope():
                self.c1 = L.Convolution2D(3, 50, 3, pad=1)
                self.c2 = L.Convolution2D(50, 50, 3, pad=1)
                self.c3 = L.Convolution2D(50, 100, 3, pad=1)
                self.c4 = L.Convolution2D(100, 100, 3, pad=1)
                self.f1 = L.Linear(6400, 512)
                self.f2 = L.Linear(512, 10)

        def __call__(self, h):
            h = F.relu(self.c1(h))
            h = F.dropout(F.relu(F.max_pooling_2d(self.c2(h), 2)), 0.25)
            h = F.relu(self.c3(h))
            h = F.dropout(F.relu(F.max_pooling_2d(self.c4(h), 2)), 0.25)
            return self.f2(F.dropout(F.relu(self.f1(h)), 0.5))

    net = Net()
    assert sum(w.size for w in net.params()) == 3441592
    opt = chainer.optimizers.MomentumSGD(lr=0.01, momentum=0.9)
    opt.setup(net)

    def step(xb, yb):
        loss = F.softmax_cross_entropy(net(xb), yb)
        net.cleargrads()
        loss.backward()
        opt.update()
        return loss
    return train_loop(step, x, y.astype(np.int32), epochs, bs, seed)


def plain_forward(model, x, bs):
    import chainer

    def fn(b):
        with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
            return model(b, layers=["pool5"])["pool5"].data
    return forward_rate(fn, x, bs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="reference", help="reference | tuned: its environment "
                    "is set before chainer is imported, so the plain loop runs under it too")
    ap.add_argument("--examples", type=int, default=640, help="CNN training examples")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--images", type=int, default=96, help="inference images (batches of 32)")
    ap.add_argument("--pairs", type=int, default=3, help="adapter/plain rounds, alternating")
    ap.add_argument("--skip-inference", action="store_true")
    args = ap.parse_args(argv)

    from common import params
    from measure import blas
    from runtime import adapters, data
    fw, cnn, settings = adapters.start("cnn", "chainer", args.variant, "cpu", 0)
    lib = [dict((k, b.get(k)) for k in ("library", "version", "kernel", "threads"))
           for b in blas.probe()["blas"]]
    print("# chainer/%s vs plain chainer loop: %s, synthetic data, CPU %s, chainer %s, "
          "variant env %s, BLAS %s" % (args.variant, platform.node(), cpu_name(), fw.version(),
                                       settings["variant_env"], lib))
    assert settings["layout"] == "NCHW"
    p = params.for_task("cnn", args.epochs)
    d = data.synthetic_cifar(0, limit=args.examples)  # NCHW, as run.py keeps it for Chainer
    runner, plain = alternate(
        args.pairs, lambda: adapter_train(cnn, p, d),
        lambda: plain_cnn_chainer(d["x_train"], d["y_train"], args.epochs, p["batch_size"], 0),
        lambda i, a, b: "cnn round %d: adapter %.2f img/s, plain %.2f img/s" % (i, a, b))
    print("CNN   chainer/%s (%d examples x %d epochs): adapter %.2f img/s, plain %.2f img/s "
          "(medians); %s" % (args.variant, args.examples, args.epochs, statistics.median(runner),
                             statistics.median(plain), ratio_text(runner, plain)))
    if args.skip_inference:
        return
    inf = importlib.import_module("inference.chainer")
    pi = params.for_task("inference")
    x = data.random_images(pi, 0, layout="NCHW", limit=args.images)["x"]
    model = inf.build_model(pi)
    runner, plain = alternate(
        args.pairs, lambda: adapter_infer(inf, model, x, pi),
        lambda: plain_forward(model, x, pi["batch_size"]),
        lambda i, a, b: "inference round %d: adapter %.2f img/s, plain %.2f img/s" % (i, a, b))
    print("INFER chainer/%s (ResNet-50, %d images, batch 32): adapter %.2f img/s, plain %.2f "
          "img/s (medians); %s" % (args.variant, len(x), statistics.median(runner),
                                   statistics.median(plain), ratio_text(runner, plain)))


if __name__ == "__main__":
    main()
