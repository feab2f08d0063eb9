"""MXNet adapter vs plain MXNet loops, one process, alternating rounds (a script, not a test).

The MXNet sibling of bench/framework_vs_plain.py, for the four tasks x two APIs the mxnet
adapter has. For the variant given (module, gluon, module-tuned, gluon-tuned), times in ONE
process, alternating adapter/plain over --pairs rounds:
  cnn        the adapter through tasks/common/protocol.train (the runner's clock and loop)
             against a plain training loop written again below, not taken from the adapter:
             module: a symbol, mx.mod.Module, forward/backward/update on DataBatches (the
             2017 MXNet_CNN loop); gluon: HybridSequential, hybridize, autograd.record,
             Trainer.step (the Gluon_CNN loop);
  rnn        the same for the GRU (module: FusedRNNCell, time-major batches; gluon: rnn.GRU);
  inference  the adapter through protocol.infer against calling the adapter's model directly
             (Module.forward / the hybridized block) on the same batches.
Prints examples/s of each and adapter/plain per round and their median (goal >= 0.95).
Synthetic inputs of the real shapes; every figure printed here is synthetic-data throughput.

    python bench/mxnet_vs_plain.py gluon-tuned --pairs 3
    python bench/mxnet_vs_plain.py module --tasks cnn,rnn
Inside the image (the checkout mounted read-only at /w):
    docker run --rm -v $PWD:/w:ro dlbench/mxnet-1.9 python3 /w/bench/mxnet_vs_plain.py gluon
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tasks"))
clock = time.perf_counter


def plain_cnn(api, x, y, epochs, bs, seed):
    import mxnet as mx
    from mxnet import autograd, gluon
    mx.random.seed(seed)
    ctx = mx.cpu()
    if api == "module":
        # conv relu conv pool relu dropout, twice (MXNet_CNN)
        d = mx.sym.Variable("data")
        for n in (50, 100):
            d = mx.sym.Activation(mx.sym.Convolution(d, num_filter=n, kernel=(3, 3),
                                                     pad=(1, 1)), act_type="relu")
            d = mx.sym.Pooling(mx.sym.Convolution(d, num_filter=n, kernel=(3, 3), pad=(1, 1)),
                               pool_type="max", kernel=(2, 2), stride=(2, 2))
            d = mx.sym.Dropout(mx.sym.Activation(d, act_type="relu"), p=0.25)
        d = mx.sym.FullyConnected(mx.sym.Flatten(d), num_hidden=512)
        d = mx.sym.Dropout(mx.sym.Activation(d, act_type="relu"), p=0.5)
        d = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(d, num_hidden=10),
                                 mx.sym.Variable("softmax_label"))
        mod = mx.mod.Module(d, context=ctx)
        mod.bind(data_shapes=[("data", (bs, 3, 32, 32))],
                 label_shapes=[("softmax_label", (bs,))])
        mod.init_params(mx.init.Xavier(rnd_type="uniform"))
        mod.init_optimizer(optimizer="sgd", optimizer_params=(("learning_rate", 0.01),
                                                             ("momentum", 0.9)))
        assert sum(v.size for v in mod.get_params()[0].values()) == 3441592

        def step(xb, yb):
            mod.forward(mx.io.DataBatch([mx.nd.array(xb, ctx)], [mx.nd.array(yb, ctx)]),
                        is_train=True)
            mod.backward()
            mod.update()
        return _loop(step, x, y.astype(np.float32), epochs, bs, seed)
    nn = gluon.nn
    net = nn.HybridSequential()
    with net.name_scope():
        for layer in (nn.Conv2D(50, 3, padding=1, activation="relu"), nn.Conv2D(50, 3, padding=1),
                      nn.MaxPool2D(2, 2), nn.Activation("relu"), nn.Dropout(0.25),
                      nn.Conv2D(100, 3, padding=1, activation="relu"),
                      nn.Conv2D(100, 3, padding=1), nn.MaxPool2D(2, 2), nn.Activation("relu"),
                      nn.Dropout(0.25), nn.Flatten(), nn.Dense(512, activation="relu"),
                      nn.Dropout(0.5), nn.Dense(10)):
            net.add(layer)
    net.initialize(mx.init.Xavier(magnitude=2.24), ctx=ctx)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01,
                                                          "momentum": 0.9})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def gstep(xb, yb):
        data, label = mx.nd.array(xb, ctx), mx.nd.array(yb, ctx)
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(bs)
    return _loop(gstep, x, y.astype(np.float32), epochs, bs, seed)


def plain_rnn(api, x, y, epochs, bs, seed):
    import mxnet as mx
    from mxnet import autograd, gluon
    mx.random.seed(seed)
    ctx = mx.cpu()
    adam = {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    xt = np.ascontiguousarray(x)
    if api == "module":
        emb = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=30000, output_dim=125)
        out, _ = mx.rnn.FusedRNNCell(100, num_layers=1, mode="gru", prefix="g_").unroll(
            150, inputs=emb, layout="TNC", merge_outputs=True)
        sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.SequenceLast(out),
                                                         num_hidden=2),
                                   mx.sym.Variable("softmax_label"))
        mod = mx.mod.Module(sym, context=ctx)
        mod.bind(data_shapes=[mx.io.DataDesc("data", (150, bs), layout="TN")],
                 label_shapes=[("softmax_label", (bs,))])
        mod.init_params(mx.init.Xavier(rnd_type="uniform"))
        mod.init_optimizer(optimizer="adam", optimizer_params=sorted(adam.items()))

        def step(xb, yb):
            mod.forward(mx.io.DataBatch([mx.nd.array(xb.T, ctx)], [mx.nd.array(yb, ctx)]),
                        is_train=True)
            mod.backward()
            mod.update()
        return _loop(step, xt, y.astype(np.float32), epochs, bs, seed)

    class Net(gluon.Block):
        def __init__(self):
            super(Net, self).__init__()
            with self.name_scope():
                self.emb = gluon.nn.Embedding(30000, 125)
                self.gru = gluon.rnn.GRU(100, layout="TNC")
                self.out = gluon.nn.Dense(2)

        def forward(self, data):
            return self.out(self.gru(self.emb(data))[-1])
    net = Net()
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", adam)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def gstep(xb, yb):
        data, label = mx.nd.array(xb.T, ctx), mx.nd.array(yb, ctx)
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(bs)
    return _loop(gstep, xt, y.astype(np.float32), epochs, bs, seed)


def _loop(step, x, y, epochs, bs, seed):
    import mxnet as mx
    rng = np.random.RandomState(seed)
    step(x[:bs], y[:bs])  # warm-up step, as the runner does
    mx.nd.waitall()
    steps = len(x) // bs
    start = clock()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            step(x[idx], y[idx])
    mx.nd.waitall()
    return steps * bs * epochs / (clock() - start)


def plain_forward(api, model, x, bs):
    """The adapter's model called directly, batch by batch, features back on the host."""
    import mxnet as mx
    batches = [x[i:i + bs] for i in range(0, len(x) - bs + 1, bs)]
    if api == "module":
        def fn(b):
            model.forward(mx.io.DataBatch([mx.nd.array(b)]), is_train=False)
            return model.get_outputs()[0].asnumpy()
    else:
        def fn(b):
            return model(mx.nd.array(b)).asnumpy()
    for b in batches:  # the untimed pass, as protocol.infer runs one
        fn(b)
    start = clock()
    for b in batches:
        fn(b)
    return len(batches) * bs / (clock() - start)


def ratios(adapter, plain):
    r = [a / p for a, p in zip(adapter, plain)]
    return "adapter/plain per round %s, median %.3f (goal >= 0.95)" % (
        ", ".join("%.3f" % v for v in r), statistics.median(r))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", help="module, gluon, module-tuned or gluon-tuned")
    ap.add_argument("--tasks", default="cnn,rnn,inference")
    ap.add_argument("--examples", type=int, default=1280, help="training examples (CNN)")
    ap.add_argument("--sequences", type=int, default=1280, help="training examples (RNN)")
    ap.add_argument("--images", type=int, default=96, help="inference images (batches of 32)")
    ap.add_argument("--pairs", type=int, default=3, help="adapter/plain rounds, alternating")
    args = ap.parse_args(argv)

    from common import adapters, data, params, protocol
    api = args.variant.split("-")[0]
    devnull = open(os.devnull, "w")
    for task in args.tasks.split(","):
        fw, module, settings = adapters.start(task, "mxnet", args.variant, "cpu", 0)
        p = params.for_task(task, 1)
        if task == "inference":
            x = data.random_images(p, 0, layout="NCHW", limit=args.images)["x"]
            model = module.build_model(p)
        elif task == "cnn":
            d = data.synthetic_cifar(0, limit=args.examples)
        else:
            d = data.synthetic_imdb(p, 0, limit=args.sequences)
        print("# %s %s/%s vs plain: %s, %s, mxnet %s, threads %s, synthetic data, CPU"
              % (task, "mxnet", args.variant, platform.node(), _cpu(), fw.version(),
                 fw.probe()["threads"]))
        runner, plain = [], []
        for i in range(args.pairs):
            order = ("adapter", "plain") if i % 2 == 0 else ("plain", "adapter")
            for which in order:
                stdout, sys.stdout = sys.stdout, devnull  # the runner's progress events
                try:
                    if which == "adapter" and task == "inference":
                        runner.append(protocol.infer(module, model, x, p)[0]["images_per_second"])
                    elif which == "adapter":
                        state = module.build_trainer(module.build_model(p), p)
                        runner.append(protocol.train(module, state, d, p, 0)[0]
                                      ["images_per_second"])
                    elif task == "inference":
                        plain.append(plain_forward(api, model, x, p["batch_size"]))
                    else:
                        fn = plain_cnn if task == "cnn" else plain_rnn
                        plain.append(fn(api, d["x_train"], d["y_train"], 1, p["batch_size"], 0))
                finally:
                    sys.stdout = stdout
            print("%s round %d: adapter %.2f /s, plain %.2f /s" % (task, i + 1, runner[-1],
                                                                   plain[-1]))
            sys.stdout.flush()
        print("%-9s mxnet/%s: adapter %.2f /s, plain %.2f /s (medians); %s"
              % (task.upper(), args.variant, statistics.median(runner), statistics.median(plain),
                 ratios(runner, plain)))
        sys.stdout.flush()


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except (IOError, OSError):
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
