"""Adapter vs plain loop, one framework per process (a script, not a test): prints figures.

For one of the non-PyTorch columns (tensorflow, tensorflow1, keras3 on a backend, flax,
caffe2), times in ONE process, alternating A/B over --pairs rounds:
  CNN        the adapter through tasks/runtime/protocol.train (the runner's clock and loop)
             against a plain hand-written training loop of the same CNN in the same framework
             (written again below, not taken from the adapter): a tf.function step, a
             TensorFlow 1 Session loop (placeholders, sess.run of the update with feed_dict, in
             its own tf.Graph; tensorflow1 runs it through tf.compat.v1 on TensorFlow 2), for
             keras3 2017's notebook cell: one model.fit over every epoch (the adapter calls fit
             once an epoch; variant tensorflow-steps, train_on_batch per minibatch, against
             Keras's custom-training-loop pattern; the two fit sides' models built once and
             trained again each round), a jax.jit step, one hand-written Caffe2
             core.Net run by workspace.RunNet;
  RNN        keras3 only: the adapter's fit per epoch against one model.fit of the same GRU
             network over every epoch (2017's Keras_TF_RNN cell);
  inference  the adapter through protocol.infer against calling the framework's compiled
             forward pass directly (tf.function / sess.run / model.predict / jax.jit /
             FeedBlob, RunNet, FetchBlob) on the same model.
Prints images/s of each and the ratio adapter/plain (goal: >= 0.95). Synthetic inputs of the
real shapes; every figure printed here is synthetic-data throughput on this machine's CPU.

    python bench/framework_vs_plain.py tensorflow
    python bench/framework_vs_plain.py keras3 --variant jax      (tensorflow[-tuned] | jax | torch)
    python bench/framework_vs_plain.py tensorflow --variant tuned  (oneDNN on, both sides)
    python bench/framework_vs_plain.py tensorflow1                 (variant graph)
    python bench/framework_vs_plain.py flax --examples 3200 --images 160 --pairs 2

bench/runner_vs_plain.py is the PyTorch counterpart (fresh processes per run);
bench/theano_vs_plain.py the one for theano and keras2 (Keras 2 on Theano), called from here;
bench/rkeras_vs_plain.py the one for rkeras (R task files, run inside R).
The loop, the rounds and the ratio are bench/vs_plain.py's, shared with the sibling scripts.
"""
import argparse
import contextlib
import importlib
import platform
import sys

import numpy as np

from vs_plain import (adapter_infer, adapter_train, alternate, built_once, clock, cpu_name,
                      cpu_only_skip, fit_loop, forward_rate, median, ratio_text, train_loop)


def plain_cnn_tensorflow(x, y, epochs, bs, seed):
    import tensorflow as tf
    tf.random.set_seed(seed)

    def glorot(shape, fan_in, fan_out):
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return tf.Variable(tf.random.uniform(shape, -a, a))
    shapes = [(3, 50), (50, 50), (50, 100), (100, 100)]
    convs = [(glorot([3, 3, i, o], 9 * i, 9 * o), tf.Variable(tf.zeros([o]))) for i, o in shapes]
    fc1 = (glorot([6400, 512], 6400, 512), tf.Variable(tf.zeros([512])))
    fc2 = (glorot([512, 10], 512, 10), tf.Variable(tf.zeros([10])))
    weights = [w for layer in convs + [fc1, fc2] for w in layer]
    assert sum(int(np.prod(w.shape)) for w in weights) == 3441592
    velocity = [tf.Variable(tf.zeros_like(w)) for w in weights]

    def conv(h, layer):
        return tf.nn.bias_add(tf.nn.conv2d(h, layer[0], 1, "SAME"), layer[1])

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(conv(xb, convs[0]))
            h = tf.nn.dropout(tf.nn.relu(tf.nn.max_pool2d(conv(h, convs[1]), 2, 2, "VALID")), .25)
            h = tf.nn.relu(conv(h, convs[2]))
            h = tf.nn.dropout(tf.nn.relu(tf.nn.max_pool2d(conv(h, convs[3]), 2, 2, "VALID")), .25)
            h = tf.nn.dropout(tf.nn.relu(tf.matmul(tf.reshape(h, [bs, -1]), fc1[0]) + fc1[1]), .5)
            logits = tf.matmul(h, fc2[0]) + fc2[1]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits))
        for w, v, g in zip(weights, velocity, tape.gradient(loss, weights)):
            v.assign(0.9 * v + g)
            w.assign_sub(0.01 * v)
        return loss

    return train_loop(lambda xb, yb: step(xb, yb), x, y, epochs, bs, seed)


def plain_cnn_tensorflow1(x, y, epochs, bs, seed):
    """The 2017 Tensorflow_CNN notebook's loop shape: a graph of placeholders and variables, one
    tf.Session, sess.run(update, feed_dict) per minibatch (dropout always on: a training-only
    graph, no switch)."""
    import tensorflow
    tf = tensorflow.compat.v1 if int(tensorflow.__version__.split(".")[0]) >= 2 else tensorflow
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        xs = tf.placeholder(tf.float32, [None, 32, 32, 3])
        ys = tf.placeholder(tf.int32, [None])

        def glorot(shape, fan_in, fan_out):
            a = np.sqrt(6.0 / (fan_in + fan_out))
            return tf.Variable(tf.random_uniform(shape, -a, a))
        shapes = [(3, 50), (50, 50), (50, 100), (100, 100)]
        convs = [(glorot([3, 3, i, o], 9 * i, 9 * o), tf.Variable(tf.zeros([o])))
                 for i, o in shapes]
        fc1 = (glorot([6400, 512], 6400, 512), tf.Variable(tf.zeros([512])))
        fc2 = (glorot([512, 10], 512, 10), tf.Variable(tf.zeros([10])))
        assert sum(int(np.prod(w.get_shape().as_list()))
                   for w in tf.trainable_variables()) == 3441592

        def conv(h, layer):
            return tf.nn.bias_add(tf.nn.conv2d(h, layer[0], [1, 1, 1, 1], "SAME"), layer[1])

        def pool(h):
            return tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        h = tf.nn.relu(conv(xs, convs[0]))
        h = tf.nn.dropout(tf.nn.relu(pool(conv(h, convs[1]))), 0.75)
        h = tf.nn.relu(conv(h, convs[2]))
        h = tf.nn.dropout(tf.nn.relu(pool(conv(h, convs[3]))), 0.75)
        h = tf.nn.dropout(tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 6400]), fc1[0]) + fc1[1]), 0.5)
        logits = tf.matmul(h, fc2[0]) + fc2[1]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=ys, logits=logits))
        update = tf.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
        sess = tf.Session(graph=graph, config=tf.ConfigProto(device_count={"GPU": 0}))
        sess.run(tf.global_variables_initializer())
    return train_loop(lambda xb, yb: sess.run([update, loss], {xs: xb, ys: yb}), x, y, epochs,
                      bs, seed)


def keras_compiled(task, seed):
    """2017's Keras model on the active backend: the network built and compiled again here (SGD
    with momentum for the CNN, Adam for the GRU; sparse labels, the accuracy metric as 2017
    compiled it), for keras_fit."""
    import keras
    L = keras.layers
    if task == "cnn":
        model = keras_cnn(seed)
        opt = keras.optimizers.SGD(0.01, momentum=0.9)
    else:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((150,), dtype="int32"), L.Embedding(30000, 125),
                                  L.GRU(100), L.Dense(2)])
        opt = keras.optimizers.Adam(0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-08)
    model.compile(optimizer=opt,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"])
    return model


def keras_fit(model, x, y, epochs, bs):
    """2017's Keras training cell: one model.fit over every epoch (vs_plain.fit_loop) of a
    keras_compiled model."""
    return fit_loop(model, x, y.astype(np.int32), epochs, bs)


def keras_cnn(seed):
    """The CNN as a Keras Sequential model, written again here (not the adapter's), seeded."""
    import keras
    keras.utils.set_random_seed(seed)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        L.Conv2D(50, 3, padding="same", activation="relu"), L.Conv2D(50, 3, padding="same"),
        L.MaxPooling2D(2), L.Activation("relu"), L.Dropout(0.25),
        L.Conv2D(100, 3, padding="same", activation="relu"), L.Conv2D(100, 3, padding="same"),
        L.MaxPooling2D(2), L.Activation("relu"), L.Dropout(0.25),
        L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(10)])
    assert model.count_params() == 3441592
    return model


def plain_cnn_keras(x, y, epochs, bs, seed):
    """Keras's own custom-training-loop pattern on the active backend: the model called with
    training=True, the loss, the gradients and optimizer.apply in a compiled step (tf.function
    on tensorflow, jax.jit over stateless_call on jax; eager autograd on torch)."""
    import keras
    model = keras_cnn(seed)
    opt = keras.optimizers.SGD(0.01, momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            opt.apply(grads, model.trainable_weights)
            return loss
        return train_loop(step, x, y, epochs, bs, seed, to_device=tf.constant)
    if backend == "jax":
        import jax
        opt.build(model.trainable_variables)

        def loss_of(tv, ntv, xb, yb):
            logits, ntv = model.stateless_call(tv, ntv, xb, training=True)
            return loss_fn(yb, logits), ntv

        @jax.jit
        def jstep(state, xb, yb):
            tv, ntv, ov = state
            (loss, ntv), grads = jax.value_and_grad(loss_of, has_aux=True)(tv, ntv, xb, yb)
            tv, ov = opt.stateless_apply(ov, grads, tv)
            return loss, (tv, ntv, ov)
        box = {"state": ([v.value for v in model.trainable_variables],
                         [v.value for v in model.non_trainable_variables],
                         [v.value for v in opt.variables])}

        def one(xb, yb):
            loss, box["state"] = jstep(box["state"], xb, yb)
            return loss
        return train_loop(one, x, y, epochs, bs, seed,
                          done=lambda: jax.block_until_ready(box["state"]))
    import torch

    def tstep(xb, yb):
        model.zero_grad()
        loss = loss_fn(yb, model(xb, training=True))
        loss.backward()
        with torch.no_grad():
            opt.apply([w.value.grad for w in model.trainable_weights], model.trainable_weights)
        return loss
    return train_loop(tstep, x, y, epochs, bs, seed, to_device=torch.from_numpy)


def plain_cnn_flax(x, y, epochs, bs, seed):
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            g = nnx.initializers.glorot_uniform()
            self.c = nnx.List([nnx.Conv(i, o, (3, 3), kernel_init=g, rngs=rngs)
                               for i, o in ((3, 50), (50, 50), (50, 100), (100, 100))])
            self.f1 = nnx.Linear(6400, 512, kernel_init=g, rngs=rngs)
            self.f2 = nnx.Linear(512, 10, kernel_init=g, rngs=rngs)
            self.d1, self.d2 = nnx.Dropout(0.25), nnx.Dropout(0.5)

        def __call__(self, h, key):
            k = jax.random.split(key, 3)
            h = nnx.relu(self.c[0](h))
            h = self.d1(nnx.relu(nnx.max_pool(self.c[1](h), (2, 2), (2, 2))), rngs=k[0])
            h = nnx.relu(self.c[2](h))
            h = self.d1(nnx.relu(nnx.max_pool(self.c[3](h), (2, 2), (2, 2))), rngs=k[1])
            h = self.d2(nnx.relu(self.f1(h.reshape((h.shape[0], -1)))), rngs=k[2])
            return self.f2(h)

    graphdef, params, rest = nnx.split(Net(nnx.Rngs(seed)), nnx.Param, ...)
    assert sum(w.size for w in jax.tree_util.tree_leaves(params)) == 3441592
    tx = optax.sgd(0.01, momentum=0.9)

    @jax.jit
    def step(params, opt_state, xb, yb, key):
        def loss_fn(params):
            logits = nnx.merge(graphdef, params, rest)(xb, key)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    box = {"params": params, "opt": tx.init(params), "key": jax.random.PRNGKey(seed)}

    def one(xb, yb):
        box["key"], key = jax.random.split(box["key"])
        box["params"], box["opt"], loss = step(box["params"], box["opt"], xb, yb, key)
        return loss
    return train_loop(one, x, y, epochs, bs, seed,
                      done=lambda: jax.block_until_ready(box["params"]),
                      to_device=jnp.asarray)


def plain_cnn_caffe2(x, y, epochs, bs, seed):
    """The CNN as one hand-written core.Net of Caffe2 operators (no brew, no model_helper, no
    optimizer module): Xavier/zero fillers in an init net, the forward ops, the loss, the
    gradient ops, one MomentumSGDUpdate per weight; one FeedBlob pair and one RunNet a step."""
    from caffe2.proto import caffe2_pb2
    from caffe2.python import core, workspace
    workspace.ResetWorkspace()
    dev = core.DeviceOption(caffe2_pb2.CPU, 0, seed)
    init, net = core.Net("plain_init"), core.Net("plain_train")
    for n in (init, net):
        n.Proto().device_option.CopyFrom(dev)
    weights = []

    def layer(op, h, name, w_shape, **kw):
        w = init.XavierFill([], name + "_w", shape=w_shape)
        b = init.ConstantFill([], name + "_b", shape=[w_shape[0]], value=0.0)
        weights.extend([w, b])
        return getattr(net, op)([h, w, b], name, **kw)
    h = layer("Conv", "data", "c1", [50, 3, 3, 3], kernel=3, pad=1, order="NCHW")
    h = net.Relu(h, "r1")
    h = net.Relu(net.MaxPool(layer("Conv", h, "c2", [50, 50, 3, 3], kernel=3, pad=1),
                             "p1", kernel=2, stride=2), "r2")
    h = net.Dropout(h, ["d1", "d1_mask"], ratio=0.25, is_test=0)[0]
    h = net.Relu(layer("Conv", h, "c3", [100, 50, 3, 3], kernel=3, pad=1), "r3")
    h = net.Relu(net.MaxPool(layer("Conv", h, "c4", [100, 100, 3, 3], kernel=3, pad=1),
                             "p2", kernel=2, stride=2), "r4")
    h = net.Dropout(h, ["d2", "d2_mask"], ratio=0.25, is_test=0)[0]
    h = net.Relu(layer("FC", h, "f1", [512, 6400]), "r5")
    h = net.Dropout(h, ["d3", "d3_mask"], ratio=0.5, is_test=0)[0]
    prob = net.Softmax(layer("FC", h, "f2", [10, 512]), "prob")
    loss = net.AveragedLoss(net.LabelCrossEntropy([prob, "label"], "xent"), "loss")
    grads = net.AddGradientOperators([loss])
    # +0.01: the value optimizer.build_sgd feeds MomentumSGDUpdate (read from the adapter's
    # workspace; its LearningRate op turns the -0.01 it is given into +0.01)
    lr = init.ConstantFill([], "lr", shape=[1], value=0.01)
    for w in weights:
        m = init.ConstantFill([w], str(w) + "_m", value=0.0)
        net.MomentumSGDUpdate([grads[w], m, lr, w], [grads[w], m, w], momentum=0.9)
    workspace.RunNetOnce(init)
    assert sum(workspace.FetchBlob(str(w)).size for w in weights) == 3441592
    workspace.FeedBlob("data", x[:bs], device_option=dev)
    workspace.FeedBlob("label", y[:bs].astype(np.int32), device_option=dev)
    workspace.CreateNet(net)

    def step(xb, yb):
        workspace.FeedBlob("data", xb, device_option=dev)
        workspace.FeedBlob("label", yb.astype(np.int32), device_option=dev)
        workspace.RunNet(net)
    return train_loop(step, x, y, epochs, bs, seed)


def plain_forward(framework, adapter, model, x, bs):
    """The framework's compiled forward pass called directly on the adapter's model."""
    if framework == "keras3":
        n = len(x) // bs * bs
        model.predict(x[:bs], batch_size=bs, verbose=0)
        start = clock()
        model.predict(x[:n], batch_size=bs, verbose=0)
        return n / (clock() - start)
    if framework == "caffe2":  # RunNet and FetchBlob on the adapter's net
        from caffe2.python import workspace

        def fn(b):
            workspace.FeedBlob("data", b)
            workspace.RunNet(model.net)
            return workspace.FetchBlob(model.features)
    elif framework == "tensorflow":
        import tensorflow as tf
        fn = lambda b: model.forward(tf.constant(b)).numpy()  # noqa: E731
    elif framework == "tensorflow1":
        fn = lambda b: model["session"].run(model["features"], {model["x"]: b})  # noqa: E731
    else:
        fn = lambda b: np.asarray(model["forward"](model["weights"], b))  # noqa: E731
    return forward_rate(fn, x, bs)


def rnn_vs_fit(args, variant):
    """keras3's GRU through the runner (fit per epoch; tensorflow-steps: train_on_batch) against
    one model.fit over every epoch, on synthetic IMDB-shaped tokens (--examples sequences)."""
    from common import params
    from runtime import adapters, data
    fw, rnn, settings = adapters.start("rnn", "keras3", variant, "cpu", 0)
    p = params.for_task("rnn", args.epochs)
    d = data.synthetic_imdb(p, 0, limit=args.examples)
    by_epoch = settings.get("training_loop") == "train_epoch"
    # both models built once, trained again each round (vs_plain.built_once)
    state = built_once(lambda: rnn.build_trainer(rnn.build_model(p), p))
    model = built_once(lambda: keras_compiled("rnn", 0))
    runner, plain = alternate(
        args.pairs, lambda: adapter_train(rnn, p, d, by_epoch=by_epoch, state=state()),
        lambda: keras_fit(model(), d["x_train"], d["y_train"], args.epochs, p["batch_size"]),
        lambda i, a, b: "rnn round %d: adapter %.1f seq/s, plain fit %.1f seq/s" % (i, a, b))
    print("RNN   keras3/%s (%d sequences x %d epochs, plain: one model.fit): adapter %.1f "
          "seq/s, plain %.1f seq/s (medians); %s" % (
              variant, args.examples, args.epochs, median(runner),
              median(plain), ratio_text(runner, plain)))


PLAIN_CNN = {"tensorflow": plain_cnn_tensorflow, "tensorflow1": plain_cnn_tensorflow1,
             "keras3": plain_cnn_keras, "flax": plain_cnn_flax, "caffe2": plain_cnn_caffe2}


def own_graph(fw):
    """tensorflow1 builds into TensorFlow 1's default graph: each round gets a fresh one, as a
    run.py process has (a no-op context for the other adapters)."""
    if fw.__name__.endswith("tensorflow1"):
        return fw.tf.Graph().as_default()
    return contextlib.contextmanager(lambda: (yield))()


def sibling_main(args):
    """Hand mxnet and chainer to bench/mxnet_vs_plain.py and bench/chainer_vs_plain.py (their
    plain loops cover the RNN too), with this script's sizes, so `make adapters-vs-plain`
    reaches every image."""
    sizes = ["--examples", str(args.examples), "--images", str(args.images),
             "--pairs", str(args.pairs)]
    if args.framework == "mxnet":
        import mxnet_vs_plain
        tasks = "cnn,rnn" if args.skip_inference else "cnn,rnn,inference"
        return mxnet_vs_plain.main([args.variant or "module", "--tasks", tasks] + sizes)
    import chainer_vs_plain
    return chainer_vs_plain.main(["--variant", args.variant or "reference"] + sizes
                                 + (["--skip-inference"] if args.skip_inference else []))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("framework", help="the adapter: %s (theano, lasagne, keras2, mxnet, chainer, "
                    "rkeras are handed to their sibling scripts; others have no plain loop here)"
                    % ", ".join(sorted(PLAIN_CNN)))
    ap.add_argument("--variant", default=None,
                    help="the adapter's variant [default: its first], e.g. tuned; keras3: "
                         "tensorflow, tensorflow-tuned, jax, torch. Its environment is set "
                         "before the framework is imported, so the plain loop runs under the "
                         "same settings")
    ap.add_argument("--examples", type=int, default=3200, help="CNN training examples")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--images", type=int, default=160, help="inference images (batches of 32)")
    ap.add_argument("--pairs", type=int, default=2, help="adapter/plain rounds, alternating")
    ap.add_argument("--skip-inference", action="store_true")
    args = ap.parse_args()
    skip = args.variant and cpu_only_skip(args.framework, args.variant)
    if skip:  # make adapters-vs-plain hands over every variant, the GPU-only ones too
        print(skip)
        return
    if args.framework in ("theano", "lasagne", "keras2"):  # Theano's NCHW graphs: the sibling
        import theano_vs_plain
        return theano_vs_plain.main(sys.argv[1:])
    if args.framework in ("mxnet", "chainer"):  # siblings with every task of both frameworks
        return sibling_main(args)
    if args.framework == "rkeras":  # R task files: the sibling runs inside R
        import rkeras_vs_plain
        return rkeras_vs_plain.main(sys.argv[1:])
    if args.framework not in PLAIN_CNN:  # a framework dropped in without a plain loop here
        print("# %s: no plain loop in bench/framework_vs_plain.py; skipped" % args.framework)
        return

    from common import params
    from runtime import adapters, data
    variant = args.variant or adapters.variant_names(adapters.framework(args.framework),
                                                     "cnn")[0]
    # the variant's environment, the framework's import and init: as run.py does them
    fw, cnn, settings = adapters.start("cnn", args.framework, variant, "cpu", 0)
    print("# %s/%s vs plain %s loop: %s, synthetic data, CPU, %s, %s %s"
          % (args.framework, variant, args.framework, platform.node(), cpu_name(), fw.NAME,
             fw.version()))
    p = params.for_task("cnn", args.epochs)
    d = data.synthetic_cifar(0, limit=args.examples)
    layout = settings["layout"]  # NHWC, or NCHW (caffe2): run.py converts, so do we
    if layout == "NHWC":
        for k in ("x_train", "x_test"):
            d[k] = d[k].transpose(0, 2, 3, 1).copy()
    by_epoch = settings.get("training_loop") == "train_epoch"  # keras3: fit once an epoch
    plain_cnn = PLAIN_CNN[args.framework]
    adapter_side = lambda: adapter_train(cnn, p, d, lambda: own_graph(fw), by_epoch)  # noqa: E731
    if by_epoch:  # Keras's fit: both models built once, trained again each round (built_once)
        state = built_once(lambda: cnn.build_trainer(cnn.build_model(p), p))
        model = built_once(lambda: keras_compiled("cnn", 0))
        adapter_side = lambda: adapter_train(cnn, p, d, by_epoch=True, state=state())  # noqa
        plain_cnn = lambda x, y, epochs, bs, seed: keras_fit(model(), x, y, epochs, bs)  # noqa
    runner, plain = alternate(
        args.pairs, adapter_side,
        lambda: plain_cnn(d["x_train"], d["y_train"], args.epochs, p["batch_size"], 0),
        lambda i, a, b: "cnn round %d: adapter %.1f img/s, plain %.1f img/s" % (i, a, b))
    rm, pm = median(runner), median(plain)
    print("CNN   %s/%s (%d examples x %d epochs, %s): adapter %.1f img/s, plain %.1f img/s "
          "(medians); %s" % (args.framework, variant, args.examples, args.epochs,
                             "plain: one model.fit" if by_epoch else "plain loop", rm, pm,
                             ratio_text(runner, plain)))
    if args.framework == "keras3":
        rnn_vs_fit(args, variant)
    if args.skip_inference:
        return
    inf = importlib.import_module("inference." + args.framework)
    pi = params.for_task("inference")
    x = data.random_images(pi, 0, layout=layout, limit=args.images)["x"]
    with own_graph(fw):
        model = inf.build_model(pi)
    runner, plain = alternate(
        args.pairs, lambda: adapter_infer(inf, model, x, pi),
        lambda: plain_forward(args.framework, inf, model, x, pi["batch_size"]),
        lambda i, a, b: "inference round %d: adapter %.2f img/s, plain %.2f img/s" % (i, a, b))
    rm, pm = median(runner), median(plain)
    print("INFER %s/%s (ResNet-50, %d images, batch 32): adapter %.2f img/s, plain %.2f img/s "
          "(medians); %s" % (args.framework, variant, len(x), rm, pm, ratio_text(runner, plain)))


if __name__ == "__main__":
    main()
