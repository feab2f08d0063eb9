"""Adapter vs plain loop in the cntk-2.7 image (Python 2.7): a script, not a test.

`make adapters-vs-plain` runs this in an image without Python 3. For the cntk adapter, in ONE
process, alternating A/B over --pairs rounds, the CNN trained by
  adapter  tasks/cnn/cntk.py through tasks/runtime/protocol.train (the runner's clock and loop);
  plain    2017's CNTK_CNN program written again here (not taken from the adapter): cntk.layers
           under default_options, cross_entropy_with_softmax, momentum_sgd, one-hot labels,
           Trainer.train_minibatch on each minibatch of vs_plain.run_loop.
Prints images/s of each by wall and CPU time and the ratio adapter/plain (goal >= 0.95).
keras2 (Keras 2.1.4 on CNTK) is handed to bench/theano_vs_plain.py (its fit comparison). Keeps to
what Python 2.7 and 3.5 both run (vermin checks it). Synthetic inputs of the real shapes:

    docker run --rm -v "$PWD":/src:ro -w /src dlbench/cntk-2.7 \\
        python2 bench/cntk_vs_plain.py cntk --examples 3200 --pairs 3
"""
from __future__ import absolute_import, division, print_function
import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported
from vs_plain import (alternate, cpu_clock, cpu_name, median, quiet,  # noqa: E402
                      ratio_text, run_loop)


def plain_cnn_cntk(x, y, epochs, bs, seed):
    """CNTK_CNN's create_symbol / init_model and its training loop, without the runner."""
    import cntk as C
    from cntk.layers import Convolution2D, Dense, Dropout, MaxPooling, default_options
    C.cntk_py.set_fixed_random_seed(seed + 1)
    features = C.input_variable((3, 32, 32), np.float32)
    labels = C.input_variable(10, np.float32)
    with default_options(init=C.glorot_uniform(), activation=C.relu):
        h = Convolution2D((3, 3), 50, pad=True)(features)
        h = Convolution2D((3, 3), 50, pad=True)(h)
        h = Dropout(0.25)(MaxPooling((2, 2), strides=(2, 2))(h))
        h = Convolution2D((3, 3), 100, pad=True)(h)
        h = Convolution2D((3, 3), 100, pad=True)(h)
        h = Dropout(0.25)(MaxPooling((2, 2), strides=(2, 2))(h))
        h = Dropout(0.5)(Dense(512)(h))
        model = Dense(10, activation=None)(h)
    assert sum(int(np.prod(w.shape)) for w in model.parameters) == 3441592
    loss = C.cross_entropy_with_softmax(model, labels)
    learner = C.momentum_sgd(model.parameters,
                             lr=C.learning_rate_schedule(0.01, C.UnitType.minibatch),
                             momentum=C.momentum_schedule(0.9), unit_gain=False)
    trainer = C.Trainer(model, (loss, C.classification_error(model, labels)), [learner])
    one_hot = np.eye(10, dtype=np.float32)

    def step(xb, yb):
        trainer.train_minibatch({features: xb, labels: one_hot[yb]})
        return trainer.previous_minibatch_loss_average

    loop = run_loop(step, x, y, epochs, bs, seed)
    return loop.images / loop.seconds, loop.images / loop.cpu_seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framework", help="cntk; keras2 goes to bench/theano_vs_plain.py")
    ap.add_argument("--variant", default=None, help="the adapter's variant [default: its first]")
    ap.add_argument("--examples", type=int, default=3200, help="CNN training examples")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=3, help="adapter/plain rounds, alternating")
    ap.add_argument("--images", type=int, help="ignored (framework_vs_plain.py's option)")
    ap.add_argument("--skip-inference", action="store_true", help="ignored: CNN only here")
    args, rest = ap.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.framework == "keras2":
        import theano_vs_plain
        return theano_vs_plain.main(sys.argv[1:] if argv is None else argv)
    if args.framework != "cntk":
        print("# %s: no plain loop in bench/cntk_vs_plain.py; skipped" % args.framework)
        return

    from common import params
    from runtime import adapters, data, protocol
    fw, cnn, settings = adapters.start("cnn", "cntk", args.variant or "reference", "cpu", 0)
    print("# cntk/%s cnn vs plain CNTK loop: %s, synthetic data, CPU, %s, %s %s"
          % (args.variant or "reference", platform.node(), cpu_name(), fw.NAME, fw.version()))
    p = params.for_task("cnn", args.epochs)
    d = data.synthetic_cifar(0, limit=args.examples)
    assert settings["layout"] == "NCHW"  # the synthetic data's own layout: no conversion
    bs = p["batch_size"]

    def adapter():
        state = cnn.build_trainer(cnn.build_model(p), p)
        cpu = cpu_clock()
        with quiet():  # the runner's progress events
            timings, _ = protocol.train(cnn, state, d, p, 0)
        images = (timings["batches"] + 1) * bs  # the runner's warm-up step and loop
        return timings["images_per_second"], images / (cpu_clock() - cpu)

    runs, plain_runs = alternate(
        args.pairs, adapter,
        lambda: plain_cnn_cntk(d["x_train"], d["y_train"], args.epochs, bs, 0),
        lambda i, a, b: "cnn round %d: adapter %.2f img/s (%.2f per CPU s), plain %.2f img/s "
                        "(%.2f per CPU s)" % (i, a[0], a[1], b[0], b[1]))
    for label, k in (("wall", 0), ("CPU", 1)):
        a, b = [r[k] for r in runs], [r[k] for r in plain_runs]
        print("CNN   cntk (%d examples x %d epochs), by %s time: adapter %.2f, plain %.2f images "
              "per second (medians); %s" % (args.examples, args.epochs, label, median(a),
                                            median(b), ratio_text(a, b)))


if __name__ == "__main__":
    main()
