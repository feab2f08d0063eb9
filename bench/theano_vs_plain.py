"""Adapter vs plain loop for the Theano and Keras 2 columns (theano, lasagne, keras2): a script.

The sibling of bench/framework_vs_plain.py (which hands these two adapters to it) for the
adapters whose CNN is NCHW and whose framework compiles a graph with theano.function. In ONE
process, alternating A/B over --pairs rounds, the CNN trained by
  adapter  the adapter through tasks/runtime/protocol.train (the runner's clock and loop), against
  plain    theano: a training loop written by hand here (not taken from the adapter): the graph,
           the momentum updates and one theano.function, called on each minibatch;
           lasagne: 2017's Theano_Lasagne_CNN cells as the notebook wrote them (Lasagne's layers,
           one theano.function returning loss and accuracy, called on each minibatch);
           keras2: the same network as a Keras 2 Sequential model trained as 2017's Keras
           notebooks did, one model.fit over every epoch (the adapter calls fit once an epoch;
           both sides' models built once and trained again each round, so a round is seconds
           of training on each side and the machine's speed changes fall on both alike);
and for keras2 also the GRU, the adapter's fit per epoch against one model.fit (Keras_CNTK_RNN's
cell). Keras 2 on CNTK (cntk-2.7) runs it on Python 2.7: this script and bench/vs_plain.py keep
to what Python 2.7 and 3.5 both run (vermin checks it).
Prints images/s of each and the ratio adapter/plain (goal: >= 0.95), by wall time and by the
process's CPU time (all its threads): on a shared, loaded machine wall time mostly measures the
other work; CPU seconds per image measure this process's own. Synthetic inputs of the
real shapes; every figure printed here is synthetic-data throughput on this machine's CPU. Run
it inside the image (Theano and its BLAS settings are the image's):

    docker run --rm -v "$PWD":/src:ro -w /src dlbench/theano-1.0 \
        python3 bench/theano_vs_plain.py theano --examples 640 --pairs 3
    docker run --rm -v "$PWD":/src:ro -w /src dlbench/keras-2.3 \
        python3 bench/theano_vs_plain.py keras2 --examples 640 --pairs 3
    docker run --rm -v "$PWD":/src:ro -w /src dlbench/cntk-2.7 \
        python2 bench/theano_vs_plain.py keras2 --variant cntk --examples 640 --pairs 3

The first round of each side compiles (Theano's C code, cached under its compiledir for the
later rounds); the runner's warm-up step and the plain loop's first step take it, outside the
figures compared. The loop, the rounds and the ratio are bench/vs_plain.py's.
"""
from __future__ import absolute_import, division, print_function
import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/, also when imported
from vs_plain import (alternate, built_once, cpu_clock, cpu_name, fit_run, median,  # noqa
                      quiet, ratio_text, run_loop)


def plain_cnn_theano(x, y, epochs, bs, seed):
    import theano
    import theano.tensor as T
    from theano.sandbox.rng_mrg import MRG_RandomStreams
    from theano.tensor.signal.pool import pool_2d

    rng = np.random.RandomState(seed)
    srng = MRG_RandomStreams(seed + 1)

    def param(shape, fan_in, fan_out):
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return theano.shared(rng.uniform(-a, a, shape).astype(np.float32))

    def zeros(n):
        return theano.shared(np.zeros(n, np.float32))
    convs = [(param((o, i, 3, 3), 9 * i, 9 * o), zeros(o))
             for i, o in ((3, 50), (50, 50), (50, 100), (100, 100))]
    fc1, fc2 = (param((6400, 512), 6400, 512), zeros(512)), (param((512, 10), 512, 10), zeros(10))
    weights = [w for layer in convs + [fc1, fc2] for w in layer]
    assert sum(w.get_value().size for w in weights) == 3441592

    def conv(h, layer):
        return T.nnet.relu(T.nnet.conv2d(h, layer[0], border_mode="half")
                           + layer[1].dimshuffle("x", 0, "x", "x"))

    def drop(h, rate):
        return h * srng.binomial(h.shape, p=1 - rate, dtype="float32") / np.float32(1 - rate)

    xs, ys = T.tensor4("x", dtype="float32"), T.ivector("y")
    h = conv(xs, convs[0])
    h = drop(pool_2d(conv(h, convs[1]), ws=(2, 2), ignore_border=True), 0.25)
    h = conv(h, convs[2])
    h = drop(pool_2d(conv(h, convs[3]), ws=(2, 2), ignore_border=True), 0.25)
    h = drop(T.nnet.relu(T.dot(h.flatten(2), fc1[0]) + fc1[1]), 0.5)
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(h, fc2[0]) + fc2[1]), ys).mean()
    updates = []
    for w, g in zip(weights, T.grad(loss, weights)):
        v = theano.shared(np.zeros_like(w.get_value()))
        v_new = np.float32(0.9) * v - np.float32(0.01) * g
        updates += [(v, v_new), (w, w + v_new)]
    step = theano.function([xs, ys], loss, updates=updates)
    return _loop(lambda xb, yb: step(xb, yb.astype(np.int32)), x, y, epochs, bs, seed)


def plain_cnn_lasagne(x, y, epochs, bs, seed):
    """The notebook's program without the runner: Lasagne's layers on an InputLayer, the mean
    categorical cross-entropy of the softmax, updates.momentum, train_func -> [loss, acc]."""
    import lasagne
    import lasagne.layers as L
    import theano
    import theano.tensor as T
    lasagne.random.set_rng(np.random.RandomState(seed))
    X = L.InputLayer(shape=(None, 3, 32, 32))
    h = L.Conv2DLayer(X, num_filters=50, filter_size=(3, 3), pad="same")
    h = L.Conv2DLayer(h, num_filters=50, filter_size=(3, 3), pad="same")
    h = L.DropoutLayer(L.MaxPool2DLayer(h, pool_size=(2, 2), stride=(2, 2)), 0.25)
    h = L.Conv2DLayer(h, num_filters=100, filter_size=(3, 3), pad="same")
    h = L.Conv2DLayer(h, num_filters=100, filter_size=(3, 3), pad="same")
    h = L.DropoutLayer(L.MaxPool2DLayer(h, pool_size=(2, 2), stride=(2, 2)), 0.25)
    h = L.DropoutLayer(L.DenseLayer(L.FlattenLayer(h), 512), 0.5)
    net = L.DenseLayer(h, 10, nonlinearity=lasagne.nonlinearities.softmax)
    params = L.get_all_params(net)
    assert sum(w.get_value().size for w in params) == 3441592
    ys = T.ivector("y")
    pred = L.get_output(net)
    loss = T.mean(lasagne.objectives.categorical_crossentropy(pred, ys))
    accuracy = T.mean(T.cast(lasagne.objectives.categorical_accuracy(pred, ys), "float32"))
    updates = lasagne.updates.momentum(loss, params, 0.01, 0.9)
    step = theano.function([X.input_var, ys], [loss, accuracy], updates=updates)
    return _loop(lambda xb, yb: step(xb, yb.astype(np.int32)), x, y, epochs, bs, seed)


KERAS2_MODELS = {}  # task -> the plain side's compiled model: built once, trained each round


def plain_cnn_keras2(x, y, epochs, bs, seed):
    """The Keras 2 way without the runner, 2017's cell: a Sequential model, one model.fit (the
    model built on the first round, trained again in the later ones, as the adapter's)."""
    if "cnn" not in KERAS2_MODELS:
        KERAS2_MODELS["cnn"] = keras2_cnn(seed)
    run = fit_run(KERAS2_MODELS["cnn"], x, y.astype(np.int32), epochs, bs)
    return run.images / run.seconds, run.images / run.cpu_seconds


def keras2_cnn(seed):
    import keras
    keras.backend.set_image_data_format("channels_first")
    np.random.seed(seed)
    L = keras.layers
    model = keras.models.Sequential([
        L.Conv2D(50, (3, 3), padding="same", activation="relu", input_shape=(3, 32, 32)),
        L.Conv2D(50, (3, 3), padding="same", activation="relu"), L.MaxPooling2D((2, 2)),
        L.Dropout(0.25),
        L.Conv2D(100, (3, 3), padding="same", activation="relu"),
        L.Conv2D(100, (3, 3), padding="same", activation="relu"), L.MaxPooling2D((2, 2)),
        L.Dropout(0.25),
        L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(10)])
    assert model.count_params() == 3441592
    model.compile(optimizer=keras.optimizers.SGD(lr=0.01, momentum=0.9),
                  loss=lambda t, o: keras.backend.sparse_categorical_crossentropy(
                      t, o, from_logits=True), metrics=["sparse_categorical_accuracy"])
    return model


def _loop(step, x, y, epochs, bs, seed):
    """(images/s by wall time, images per CPU second) of vs_plain.run_loop."""
    loop = run_loop(step, x, y, epochs, bs, seed)
    return loop.images / loop.seconds, loop.images / loop.cpu_seconds


PLAIN_CNN = {"theano": plain_cnn_theano, "lasagne": plain_cnn_lasagne,
             "keras2": plain_cnn_keras2}


def plain_rnn_keras2(x, y, epochs, bs, seed):
    """2017's Keras RNN cell without the runner (Keras_CNTK_RNN): Embedding, GRU with Keras
    2.1.4's hard-sigmoid gates, Dense, Adam; one model.fit over every epoch (the model built
    on the first round, trained again in the later ones)."""
    if "rnn" not in KERAS2_MODELS:
        KERAS2_MODELS["rnn"] = keras2_rnn(seed)
    run = fit_run(KERAS2_MODELS["rnn"], x.astype(np.int32), y.astype(np.int32), epochs, bs)
    return run.images / run.seconds, run.images / run.cpu_seconds


def keras2_rnn(seed):
    import keras
    np.random.seed(seed)
    L = keras.layers
    model = keras.models.Sequential([
        L.Embedding(30000, 125, input_length=150),
        L.GRU(100, recurrent_activation="hard_sigmoid"), L.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(lr=0.001, beta_1=0.9, beta_2=0.999,
                                                  epsilon=1e-8),
                  loss=lambda t, o: keras.backend.sparse_categorical_crossentropy(
                      t, o, from_logits=True), metrics=["sparse_categorical_accuracy"])
    return model


PLAIN_RNN = {"keras2": plain_rnn_keras2}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framework", help="the adapter: %s" % ", ".join(sorted(PLAIN_CNN)))
    ap.add_argument("--variant", default=None, help="the adapter's variant [default: its first]")
    ap.add_argument("--examples", type=int, default=640, help="training examples per task")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=3, help="adapter/plain rounds, alternating")
    ap.add_argument("--task", action="append", choices=["cnn", "rnn"],
                    help="cnn, rnn (keras2 only) [default: each the adapter has here]")
    ap.add_argument("--images", type=int, help="ignored (framework_vs_plain.py's option)")
    ap.add_argument("--skip-inference", action="store_true", help="ignored: training only")
    args = ap.parse_args(argv)
    if args.framework not in PLAIN_CNN:  # cntk-2.7's cntk adapter: make adapters-vs-plain
        print("# %s: no plain loop in bench/theano_vs_plain.py; skipped" % args.framework)
        return
    for task in args.task or (["cnn", "rnn"] if args.framework in PLAIN_RNN else ["cnn"]):
        compare(task, args)


def compare(task, args):
    from common import params
    from runtime import adapters, data, protocol
    variant = args.variant or adapters.variant_names(adapters.framework(args.framework),
                                                     task)[0]
    fw, module, settings = adapters.start(task, args.framework, variant, "cpu", 0)
    print("# %s/%s %s vs plain %s loop: %s, synthetic data, CPU, %s, %s %s"
          % (args.framework, variant, task, args.framework, platform.node(), cpu_name(),
             fw.NAME, fw.version()))
    p = params.for_task(task, args.epochs)
    if task == "cnn":
        d = data.synthetic_cifar(0, limit=args.examples)
        assert settings["layout"] == "NCHW"  # the synthetic data's own layout: no conversion
        plain = PLAIN_CNN[args.framework]
    else:
        d = data.synthetic_imdb(p, 0, limit=args.examples)
        plain = PLAIN_RNN[args.framework]
    bs = p["batch_size"]
    by_epoch = settings.get("training_loop") == "train_epoch"  # keras2: fit once an epoch

    def build():
        state = module.build_trainer(module.build_model(p), p)
        module.train_step(state, d["x_train"][:bs], d["y_train"][:bs])  # compile first
        return state
    # keras2: both sides' models built once and trained again each round (vs_plain.built_once),
    # as the plain side's (KERAS2_MODELS)
    kept = built_once(build) if args.framework == "keras2" else build

    def adapter():
        state = kept()
        cpu = cpu_clock()
        with quiet():  # the runner's progress events
            timings, _ = protocol.train(module, state, d, p, 0, by_epoch=by_epoch)
        # CPU time of the runner's warm-up step and loop: one step more than timed
        images = (timings["batches"] + 1) * bs
        return timings["images_per_second"], images / (cpu_clock() - cpu)

    runs, plain_runs = alternate(
        args.pairs, adapter,
        lambda: plain(d["x_train"], d["y_train"], args.epochs, bs, 0),
        lambda i, a, b: "%s round %d: adapter %.2f img/s (%.2f per CPU s), plain %.2f img/s "
                        "(%.2f per CPU s)" % (task, i, a[0], a[1], b[0], b[1]))
    runner, runner_cpu = [r[0] for r in runs], [r[1] for r in runs]
    plain, plain_cpu = [r[0] for r in plain_runs], [r[1] for r in plain_runs]
    for label, a, b in (("wall", runner, plain), ("CPU", runner_cpu, plain_cpu)):
        print("%s   %s/%s (%d examples x %d epochs), by %s time: adapter %.2f, plain %.2f "
              "per second (medians); %s" % (task.upper(), args.framework, variant,
                                            args.examples, args.epochs, label, median(a),
                                            median(b), ratio_text(a, b)))


if __name__ == "__main__":
    main()
