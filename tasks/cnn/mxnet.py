"""CNN (VGG-style, CIFAR-10) in MXNet, both APIs the 2017 benchmark ran.

module: mx.sym operators, SoftmaxOutput, trained by mx.mod.Module with Glorot-uniform
weights (notebook MXNet_CNN: Xavier(rnd_type='uniform')). gluon: a HybridSequential of Gluon
layers, hybridized, Xavier(magnitude=2.24) as notebook Gluon_CNN initialised it. NCHW as both
notebooks fed it. Dropout after the dense layer is params' 0.5 in both (Gluon_CNN had 0.25).
Sizes in common/params.py. One file serves MXNet 0.12.1 (the 2017 image) and 1.9.
"""
import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from common import canonical
from frameworks import mxnet as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW"}


def _symbol(p):
    """The network as the symbolic API writes it (MXNet_CNN); the loss is SoftmaxOutput."""
    c1, c2, k, pool = p["conv1_filters"], p["conv2_filters"], p["kernel"], p["pool"]
    pad = (k // 2, k // 2)  # 'same' padding
    x = mx.sym.Variable("data")
    x = mx.sym.Convolution(x, num_filter=c1, kernel=(k, k), pad=pad)
    x = mx.sym.Activation(x, act_type="relu")
    x = mx.sym.Convolution(x, num_filter=c1, kernel=(k, k), pad=pad)
    x = mx.sym.Pooling(x, pool_type="max", kernel=(pool, pool), stride=(pool, pool))
    x = mx.sym.Dropout(mx.sym.Activation(x, act_type="relu"), p=p["dropout_conv"])
    x = mx.sym.Convolution(x, num_filter=c2, kernel=(k, k), pad=pad)
    x = mx.sym.Activation(x, act_type="relu")
    x = mx.sym.Convolution(x, num_filter=c2, kernel=(k, k), pad=pad)
    x = mx.sym.Pooling(x, pool_type="max", kernel=(pool, pool), stride=(pool, pool))
    x = mx.sym.Dropout(mx.sym.Activation(x, act_type="relu"), p=p["dropout_conv"])
    x = mx.sym.FullyConnected(mx.sym.Flatten(x), num_hidden=p["dense_units"])
    x = mx.sym.Dropout(mx.sym.Activation(x, act_type="relu"), p=p["dropout_dense"])
    x = mx.sym.FullyConnected(x, num_hidden=p["n_classes"])  # logits
    return mx.sym.SoftmaxOutput(x, mx.sym.Variable("softmax_label"), name="softmax")


def _block(p):
    """The same network as Gluon layers (Gluon_CNN). Input sizes are given, so the weights
    exist (and are counted) before the first batch."""
    c1, c2, k, pool = p["conv1_filters"], p["conv2_filters"], p["kernel"], p["pool"]
    nn = gluon.nn
    flat = c2 * (p["height"] // 4) * (p["width"] // 4)
    net = nn.HybridSequential()
    with net.name_scope():
        for layer in (
                nn.Conv2D(c1, k, padding=k // 2, in_channels=p["channels"], activation="relu"),
                nn.Conv2D(c1, k, padding=k // 2, in_channels=c1),
                nn.MaxPool2D(pool, pool), nn.Activation("relu"), nn.Dropout(p["dropout_conv"]),
                nn.Conv2D(c2, k, padding=k // 2, in_channels=c1, activation="relu"),
                nn.Conv2D(c2, k, padding=k // 2, in_channels=c2),
                nn.MaxPool2D(pool, pool), nn.Activation("relu"), nn.Dropout(p["dropout_conv"]),
                nn.Flatten(),
                nn.Dense(p["dense_units"], activation="relu", in_units=flat),
                nn.Dropout(p["dropout_dense"]),
                nn.Dense(p["n_classes"], in_units=p["dense_units"])):  # logits
            net.add(layer)  # one at a time: MXNet 0.12's add takes one block
    return net


def build_model(p):
    if fw.DEVICE["api"] == "module":
        model = mx.mod.Module(_symbol(p), context=fw.DEVICE["ctx"])
        model.bind(data_shapes=[("data", (p["batch_size"], p["channels"], p["height"],
                                          p["width"]))],
                   label_shapes=[("softmax_label", (p["batch_size"],))])
        model.init_params(initializer=mx.init.Xavier(rnd_type="uniform"))
        return model
    model = _block(p)
    model.initialize(mx.init.Xavier(magnitude=2.24), ctx=fw.DEVICE["ctx"])
    model.hybridize()
    return model


def count_parameters(model):
    if fw.DEVICE["api"] == "module":
        weights, statistics = model.get_params()
        return sum(w.size for w in list(weights.values()) + list(statistics.values()))
    return sum(w.data().size for w in model.collect_params().values())


def build_trainer(model, p):
    if fw.DEVICE["api"] == "module":
        # Module scales the summed gradients by 1 / batch size: SGD on the mean loss
        model.init_optimizer(optimizer="sgd", optimizer_params=(("learning_rate", p["lr"]),
                                                                ("momentum", p["momentum"])))
        return {"model": model, "metric": mx.metric.create("acc")}  # MXNet_CNN's
    return {"model": model,
            "loss": gluon.loss.SoftmaxCrossEntropyLoss(),
            "trainer": gluon.Trainer(model.collect_params(), "sgd",
                                     {"learning_rate": p["lr"], "momentum": p["momentum"]})}


def _array(array):
    return mx.nd.array(array, ctx=fw.DEVICE["ctx"])  # host-to-device copy, timed as in 2017


def train_step(state, x, y):
    model = state["model"]
    xb, yb = _array(x), _array(y.astype(np.float32))
    if fw.DEVICE["api"] == "module":
        batch = mx.io.DataBatch(data=[xb], label=[yb])
        model.forward(batch, is_train=True)  # dropout on
        if not fw.DEVICE["tuned"]:  # 2017's MXNet_CNN updated an accuracy metric every batch
            model.update_metric(state["metric"], batch.label)  # (it waits for the forward)
        model.backward()
        model.update()
        # SoftmaxOutput returns probabilities, not the loss: keep them with the labels (the
        # output buffer is overwritten by the next step; to_float reads it before that)
        return model.get_outputs()[0], yb
    with autograd.record():  # training mode: dropout on
        loss = state["loss"](model(xb), yb)
    loss.backward()
    state["trainer"].step(x.shape[0])  # gradients of the summed loss / batch: the mean
    return loss


def to_float(loss):
    if isinstance(loss, tuple):  # module: cross-entropy of SoftmaxOutput's probabilities
        probabilities, labels = loss[0].asnumpy(), loss[1].asnumpy().astype(np.int64)
        picked = probabilities[np.arange(len(labels)), labels]
        return float(-np.mean(np.log(np.maximum(picked, 1e-12))))
    return float(mx.nd.mean(loss).asnumpy()[0])


def predict(state, x):
    model = state["model"]
    if fw.DEVICE["api"] == "module":
        model.forward(mx.io.DataBatch(data=[_array(x)], label=None), is_train=False)
        out = model.get_outputs()[0]
    else:
        out = model(_array(x))  # not recording: dropout off
    return mx.nd.argmax(out, axis=1).asnumpy().astype(np.int64)


def sync(state):
    mx.nd.waitall()  # MXNet's engine runs every operator asynchronously, CPU too


# Model equivalence (dlbench check-models): the weights in the canonical form, both APIs. Both
# hold them in the network's order (the symbol's arguments; the Gluon blocks' registration), the
# canonical names' order here; MXNet's layouts are the canonical ones already (convolutions OIHW,
# dense (out, in), Flatten in NCHW order).
_CANONICAL = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
              "conv3.bias", "conv4.weight", "conv4.bias", "fc1.weight", "fc1.bias",
              "fc2.weight", "fc2.bias")


def _native_names(model):
    """(canonical name, MXNet's name) pairs."""
    if fw.DEVICE["api"] == "module":
        weights = model.get_params()[0]
        names = [n for n in model.symbol.list_arguments() if n in weights]
    else:
        names = list(model.collect_params().keys())
    if len(names) != len(_CANONICAL):
        raise ValueError("the MXNet CNN holds %d weight arrays, the canonical CNN %d"
                         % (len(names), len(_CANONICAL)))
    return list(zip(_CANONICAL, names))


def _logits_module(model, shape):
    """A Module of the symbol up to the logits (the input of SoftmaxOutput, which outputs
    probabilities), holding the training Module's weights, bound for the batch's shape."""
    internals = model.symbol.get_internals()
    name = [n for n in internals.list_outputs() if n.startswith("fullyconnected")][-1]
    logits = mx.mod.Module(internals[name], label_names=None, context=fw.DEVICE["ctx"])
    logits.bind(data_shapes=[("data", shape)], for_training=False)
    weights, statistics = model.get_params()
    logits.set_params(weights, statistics)
    return logits


def export_params(state):
    model = state["model"]
    if fw.DEVICE["api"] == "module":
        weights = model.get_params()[0]
        return dict((c, weights[n].asnumpy()) for c, n in _native_names(model))
    params = model.collect_params()
    return dict((c, params[n].data().asnumpy()) for c, n in _native_names(model))


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, _CANONICAL)
    pairs = _native_names(model)
    if fw.DEVICE["api"] == "module":
        weights = model.get_params()[0]
        new = {}
        for c, n in pairs:
            new[n] = mx.nd.array(canonical.checked(params[c], c, weights[n].shape))
        model.set_params(new, {}, force_init=True)
        return
    own = model.collect_params()
    for c, n in pairs:
        own[n].set_data(mx.nd.array(canonical.checked(params[c], c, own[n].shape),
                                    ctx=fw.DEVICE["ctx"]))


def outputs(state, x):
    """The logits of a batch, dropout off (eval mode), as numpy."""
    model = state["model"]
    if fw.DEVICE["api"] == "module":
        logits = _logits_module(model, x.shape)
        logits.forward(mx.io.DataBatch(data=[_array(x)], label=None), is_train=False)
        return logits.get_outputs()[0].asnumpy()
    return model(_array(x)).asnumpy()  # not recording: dropout off
