"""MXNet adapter vs plain MXNet loops, one process, alternating rounds (a script, not a test).

The MXNet sibling of bench/framework_vs_plain.py, for the four tasks x two APIs the mxnet
adapter has. For the variant given (module, gluon, module-tuned, gluon-tuned), times in ONE
process, alternating adapter/plain over --pairs rounds:
  cnn        the adapter through tasks/runtime/protocol.train (the runner's clock and loop)
             against a plain training loop written again below, not taken from the adapter:
             module: a symbol, mx.mod.Module, forward/backward/update on DataBatches (the
             2017 MXNet_CNN loop); gluon: HybridSequential, hybridize, autograd.record,
             Trainer.step (the Gluon_CNN loop);
  rnn        the same for the GRU (module: FusedRNNCell; gluon: rnn.GRU), each loop the
             variant's program (reference: 2017's NTC batches and per-batch accuracy update;
             -tuned: time-major batches, hybridized, no metric);
  inference  the adapter through protocol.infer against calling the adapter's model directly
             (Module.forward / the hybridized block) on the same batches.
Prints examples/s of each and adapter/plain per round and their median (goal >= 0.95).
Synthetic inputs of the real shapes; every figure printed here is synthetic-data throughput.

    python bench/mxnet_vs_plain.py gluon-tuned --pairs 3
    python bench/mxnet_vs_plain.py module --tasks cnn,rnn
Inside the image (the checkout mounted read-only at /w):
    docker run --rm -v $PWD:/w:ro dlbench/mxnet-1.9 python3 /w/bench/mxnet_vs_plain.py gluon
The loop, the rounds and the ratio are bench/vs_plain.py's.
"""
import argparse
import platform
import statistics
import sys

import numpy as np

from vs_plain import (adapter_infer, adapter_train, alternate, cpu_name, forward_rate, quiet,
                      ratio_text, train_loop)


def plain_cnn(api, x, y, epochs, bs, seed, tuned=False):
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

        metric = mx.metric.create("acc")

        def step(xb, yb):
            batch = mx.io.DataBatch([mx.nd.array(xb, ctx)], [mx.nd.array(yb, ctx)])
            mod.forward(batch, is_train=True)
            if not tuned:  # MXNet_CNN's per-batch accuracy update, as the adapter's reference
                mod.update_metric(metric, batch.label)
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


def plain_rnn(api, x, y, epochs, bs, seed, tuned=False):
    """The GRU loops: tuned False as 2017's MXNet_RNN / Gluon_RNN (batch-major NTC, a per-batch
    accuracy update, the Gluon Block not hybridized), True as the -tuned variants (time-major
    TNC batches transposed on the host, no metric, hybridized)."""
    import mxnet as mx
    from mxnet import autograd, gluon
    mx.random.seed(seed)
    ctx = mx.cpu()
    adam = {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    xt = np.ascontiguousarray(x)

    def feed(xb):
        return mx.nd.array(xb.T if tuned else xb, ctx)
    if api == "module":
        emb = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=30000, output_dim=125)
        cell = mx.rnn.FusedRNNCell(100, num_layers=1, mode="gru", prefix="g_")
        if tuned:
            out, _ = cell.unroll(150, inputs=emb, layout="TNC", merge_outputs=True)
            last = mx.sym.SequenceLast(out)
        else:
            last = cell.unroll(150, inputs=emb, merge_outputs=False)[0][-1]
        sym = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(last, num_hidden=2),
                                   mx.sym.Variable("softmax_label"))
        mod = mx.mod.Module(sym, context=ctx)
        shape = mx.io.DataDesc("data", (150, bs), layout="TN") if tuned else \
            mx.io.DataDesc("data", (bs, 150), layout="NT")
        mod.bind(data_shapes=[shape], label_shapes=[("softmax_label", (bs,))])
        mod.init_params(mx.init.Xavier(rnd_type="uniform"))
        mod.init_optimizer(optimizer="adam", optimizer_params=sorted(adam.items()))
        metric = mx.metric.create("acc")

        def step(xb, yb):
            batch = mx.io.DataBatch([feed(xb)], [mx.nd.array(yb, ctx)])
            mod.forward(batch, is_train=True)
            if not tuned:
                mod.update_metric(metric, batch.label)
            mod.backward()
            mod.update()
        return _loop(step, xt, y.astype(np.float32), epochs, bs, seed)

    class Net(gluon.Block):
        def __init__(self):
            super(Net, self).__init__()
            with self.name_scope():
                self.emb = gluon.nn.Embedding(30000, 125)
                self.gru = gluon.rnn.GRU(100, layout="TNC" if tuned else "NTC")
                self.out = gluon.nn.Dense(2)

        def forward(self, data):
            out = self.gru(self.emb(data))
            return self.out(out[-1] if tuned else out[:, -1, :])
    net = Net()
    net.initialize(mx.init.Xavier(), ctx=ctx)
    if tuned:
        net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", adam)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def gstep(xb, yb):
        data, label = feed(xb), mx.nd.array(yb, ctx)
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(bs)
    return _loop(gstep, xt, y.astype(np.float32), epochs, bs, seed)


def _loop(step, x, y, epochs, bs, seed):
    """vs_plain.train_loop, waiting for MXNet's asynchronous engine after the warm-up step and
    after the loop."""
    import mxnet as mx
    return train_loop(step, x, y, epochs, bs, seed, done=mx.nd.waitall)


def plain_forward(api, model, x, bs):
    """The adapter's model called directly, batch by batch, the features left on the device and
    waited for once (as 2017's MXNet_Inference, and the adapter)."""
    import mxnet as mx
    if api == "module":
        def fn(b):
            model.forward(mx.io.DataBatch([mx.nd.array(b)]), is_train=False)
            return model.get_outputs()[0]
    else:
        def fn(b):
            return model(mx.nd.array(b))
    # an untimed pass, as protocol.infer runs
    return forward_rate(fn, x, bs, warm_all=True, done=mx.nd.waitall)


def _quietly(fn):
    """fn with stdout silenced, as the adapter's side is."""
    def run():
        with quiet():
            return fn()
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", help="module, gluon, module-tuned or gluon-tuned")
    ap.add_argument("--tasks", default="cnn,rnn,inference")
    ap.add_argument("--examples", type=int, default=1280, help="training examples (CNN)")
    ap.add_argument("--sequences", type=int, default=1280, help="training examples (RNN)")
    ap.add_argument("--images", type=int, default=96, help="inference images (batches of 32)")
    ap.add_argument("--pairs", type=int, default=3, help="adapter/plain rounds, alternating")
    args = ap.parse_args(argv)

    from common import params
    from runtime import adapters, data
    api = args.variant.split("-")[0]
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
              % (task, "mxnet", args.variant, platform.node(), cpu_name(), fw.version(),
                 fw.probe()["threads"]))
        if task == "inference":
            adapter_side = lambda: adapter_infer(module, model, x, p)  # noqa: E731
            plain_side = lambda: plain_forward(api, model, x, p["batch_size"])  # noqa: E731
        else:
            adapter_side = lambda: adapter_train(module, p, d)  # noqa: E731
            fn = plain_cnn if task == "cnn" else plain_rnn
            plain_side = lambda: fn(api, d["x_train"], d["y_train"], 1,  # noqa: E731
                                    p["batch_size"], 0, tuned=args.variant.endswith("-tuned"))
        runner, plain = alternate(
            args.pairs, adapter_side, _quietly(plain_side),
            lambda i, a, b: "%s round %d: adapter %.2f /s, plain %.2f /s" % (task, i, a, b))
        print("%-9s mxnet/%s: adapter %.2f /s, plain %.2f /s (medians); %s"
              % (task.upper(), args.variant, statistics.median(runner), statistics.median(plain),
                 ratio_text(runner, plain)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
