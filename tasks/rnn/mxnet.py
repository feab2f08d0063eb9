"""RNN (GRU sentiment classifier, IMDB) in MXNet, both APIs the 2017 benchmark ran.

module: the fused RNN operator (mx.sym.RNN through mx.rnn.FusedRNNCell: cuDNN's GRU on a GPU,
MXNet's own CPU kernel otherwise), trained by mx.mod.Module, Glorot-uniform weights
(notebook MXNet_RNN: Xavier(rnd_type='uniform'); the fused parameter vector is initialised
piece by piece, weights by that initialiser, biases zero). gluon: gluon.rnn.GRU, the same
fused operator inside, Xavier() as notebook Gluon_RNN. The reference variants run the tabled
notebooks' program: batch-major (NTC) batches, transposed inside the graph (MXNet_RNN's
FusedRNNCell unrolled with its default layout, merge_outputs=False; Gluon_RNN's layout="NTC"
GRU in a Block that was never hybridized), and MXNet_RNN's per-batch accuracy update. The
-tuned variants run the faster forms: time-major (TNC) batches transposed on the host, as the
untabled MXNet_RNN_TNC notebook fed them (the fused operator's own layout), the Gluon network
hybridized, no per-batch metric.
The GRU holds two bias vectors (cuDNN's form): 68,100 weights. One file serves MXNet 0.12.1
(the 2017 image: its fused RNN operator runs on GPUs only) and 1.9.
"""
import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from common import canonical
from frameworks import mxnet as fw

EQUIVALENCE = {"family": "gru-reset-after"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC as 2017's MXNet_RNN and Gluon_RNN (reference variants); TNC "
                      "time-major, transposed on the host (-tuned variants)"}


def _symbol(p):
    """Embedding, fused GRU, last step, dense 2, SoftmaxOutput (MXNet_RNN)."""
    x = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=p["max_features"],
                         output_dim=p["embedding"])           # (N, T, emb); tuned: (T, N, emb)
    gru = mx.rnn.FusedRNNCell(p["hidden"], num_layers=1, mode="gru", prefix="gru_")
    if fw.DEVICE["tuned"]:
        out, _ = gru.unroll(p["maxlen"], inputs=x, layout="TNC", merge_outputs=True)
        last = mx.sym.SequenceLast(out)
    else:  # as MXNet_RNN: the default NTC layout, one output per step, the last one taken
        outs, _ = gru.unroll(p["maxlen"], inputs=x, merge_outputs=False)  # zero state
        last = outs[-1]
    x = mx.sym.FullyConnected(last, num_hidden=p["n_classes"])  # logits
    return mx.sym.SoftmaxOutput(x, mx.sym.Variable("softmax_label"), name="softmax")


class _GRUClassifier(gluon.Block):
    """The same network as Gluon blocks (Gluon_RNN). A Block, as the notebook wrote it (MXNet
    0.12's gluon.rnn.GRU is no HybridBlock); hybridize() hybridizes its children where the
    version can. Input sizes are given, so the weights exist before the first batch."""

    def __init__(self, p, **kwargs):
        super(_GRUClassifier, self).__init__(**kwargs)
        with self.name_scope():
            self.embedding = gluon.nn.Embedding(p["max_features"], p["embedding"])
            self.time_major = fw.DEVICE["tuned"]
            self.gru = gluon.rnn.GRU(p["hidden"], num_layers=1,
                                     layout="TNC" if self.time_major else "NTC",
                                     input_size=p["embedding"])
            self.fc = gluon.nn.Dense(p["n_classes"], in_units=p["hidden"])

    def forward(self, x):
        out = self.gru(self.embedding(x))  # initial state: zeros
        last = out[out.shape[0] - 1] if self.time_major else out[:, -1, :]  # the last step
        return self.fc(last)  # logits; softmax in the loss


def _version():
    return tuple(int(part) for part in mx.__version__.split(".")[:2])


def build_model(p):
    if fw.DEVICE["api"] == "module":
        if not fw.DEVICE["gpu"] and _version() < (1, 3):
            raise RuntimeError("MXNet %s's fused RNN operator runs on GPUs only (its CPU GRU "
                               "came in 1.3): use --device gpu, the gluon variant, or the "
                               "mxnet-1.9 image" % mx.__version__)
        model = mx.mod.Module(_symbol(p), context=fw.DEVICE["ctx"])
        # time-major data has the batch on axis 1: Module reads it from the layout
        data = (mx.io.DataDesc("data", (p["maxlen"], p["batch_size"]), layout="TN")
                if fw.DEVICE["tuned"] else
                mx.io.DataDesc("data", (p["batch_size"], p["maxlen"]), layout="NT"))
        model.bind(data_shapes=[data], label_shapes=[("softmax_label", (p["batch_size"],))])
        model.init_params(initializer=mx.init.Xavier(rnd_type="uniform"))
        return model
    model = _GRUClassifier(p)
    model.initialize(mx.init.Xavier(), ctx=fw.DEVICE["ctx"])
    if fw.DEVICE["tuned"]:  # Gluon_RNN never hybridized its network
        model.hybridize()
    return model


def count_parameters(model):
    if fw.DEVICE["api"] == "module":
        weights, statistics = model.get_params()
        return sum(w.size for w in list(weights.values()) + list(statistics.values()))
    return sum(w.data().size for w in model.collect_params().values())


def build_trainer(model, p):
    adam = {"learning_rate": p["lr"], "beta1": p["beta1"], "beta2": p["beta2"],
            "epsilon": p["eps"]}
    if fw.DEVICE["api"] == "module":
        # Module scales the summed gradients by 1 / batch size: Adam on the mean loss
        model.init_optimizer(optimizer="adam", optimizer_params=sorted(adam.items()))
        return {"model": model, "metric": mx.metric.create("acc")}  # MXNet_RNN's
    return {"model": model,
            "loss": gluon.loss.SoftmaxCrossEntropyLoss(),
            "trainer": gluon.Trainer(model.collect_params(), "adam", adam)}


def _array(array):
    return mx.nd.array(array, ctx=fw.DEVICE["ctx"])  # host-to-device copy, timed as in 2017


def _layout(x):
    """The batch as the variant feeds it: (batch, time) as 2017's tabled notebooks, or
    time-major (time, batch) as MXNet_RNN_TNC fed it (-tuned)."""
    return np.ascontiguousarray(x.T) if fw.DEVICE["tuned"] else x


def train_step(state, x, y):
    model = state["model"]
    xb, yb = _array(_layout(x)), _array(y.astype(np.float32))
    if fw.DEVICE["api"] == "module":
        batch = mx.io.DataBatch(data=[xb], label=[yb])
        model.forward(batch, is_train=True)
        if not fw.DEVICE["tuned"]:  # 2017's MXNet_RNN updated an accuracy metric every batch
            model.update_metric(state["metric"], batch.label)  # (it waits for the forward)
        model.backward()
        model.update()
        # SoftmaxOutput returns probabilities, not the loss: keep them with the labels (the
        # output buffer is overwritten by the next step; to_float reads it before that)
        return model.get_outputs()[0], yb
    with autograd.record():
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
        model.forward(mx.io.DataBatch(data=[_array(_layout(x))], label=None),
                      is_train=False)
        out = model.get_outputs()[0]
    else:
        out = model(_array(_layout(x)))
    return mx.nd.argmax(out, axis=1).asnumpy().astype(np.int64)


def sync(state):
    mx.nd.waitall()  # MXNet's engine runs every operator asynchronously, CPU too


# Model equivalence (dlbench check-models): the weights in the canonical form, both APIs, in the
# cuDNN GRU form (gates r, z, n; two bias vectors; n = tanh(W_n x + b_in + r * (U_n h + b_hn)),
# h = (1 - z) * n + z * h), which is MXNet's GRU: the fused operator's gate order is r, z, n
# (FusedRNNCell's gate names _r, _z, _o; Gluon's GRU documents the same). Module holds the GRU as
# one vector (FusedRNNCell's packing for one layer, one direction: the input weights of the three
# gates, each (hidden, embedding), then the recurrent ones, each (hidden, hidden), then the input
# biases, then the recurrent biases); Gluon holds the four arrays. Dense is (out, in) in both.
_CANONICAL = ("embedding.weight", "gru.weight_ih", "gru.weight_hh", "gru.bias_ih",
              "gru.bias_hh", "fc.weight", "fc.bias")


def _native_names(model):
    """MXNet's weight names in the network's order: embedding, GRU (Module: one packed vector;
    Gluon: i2h weight, h2h weight, i2h bias, h2h bias), dense weight and bias."""
    if fw.DEVICE["api"] == "module":
        weights = model.get_params()[0]
        names = [n for n in model.symbol.list_arguments() if n in weights]
        expected = 4
    else:
        names = list(model.collect_params().keys())
        expected = len(_CANONICAL)
    if len(names) != expected:
        raise ValueError("the MXNet RNN holds %d weight arrays, %d expected"
                         % (len(names), expected))
    return names


def _unpack(vector, embedding, hidden):
    """The fused operator's GRU vector -> (weight_ih, weight_hh, bias_ih, bias_hh)."""
    sizes = (3 * hidden * embedding, 3 * hidden * hidden, 3 * hidden, 3 * hidden)
    if vector.size != sum(sizes):
        raise ValueError("the fused GRU vector holds %d numbers, %d expected"
                         % (vector.size, sum(sizes)))
    ends = np.cumsum(sizes)
    parts = np.split(vector.ravel(), ends[:-1])
    return (parts[0].reshape(3 * hidden, embedding), parts[1].reshape(3 * hidden, hidden),
            parts[2], parts[3])


def export_params(state):
    model = state["model"]
    names = _native_names(model)
    if fw.DEVICE["api"] == "module":
        weights = model.get_params()[0]
        embedding = weights[names[0]].asnumpy()
        fc = weights[names[2]].asnumpy()
        gru = _unpack(weights[names[1]].asnumpy(), embedding.shape[1], fc.shape[1])
        arrays = [embedding] + list(gru) + [fc, weights[names[3]].asnumpy()]
    else:
        params = model.collect_params()
        arrays = [params[n].data().asnumpy() for n in names]
    return dict(zip(_CANONICAL, arrays))


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, _CANONICAL)
    names = _native_names(model)
    arrays = [np.asarray(params[c], dtype=np.float32) for c in _CANONICAL]
    if fw.DEVICE["api"] == "module":
        weights = model.get_params()[0]
        packed = np.concatenate([a.ravel() for a in arrays[1:5]])
        new = dict(zip(names, (arrays[0], packed, arrays[5], arrays[6])))
        for n, value in new.items():
            if value.shape != weights[n].shape:
                raise ValueError("%s: shape %s from the canonical weights, %s expected"
                                 % (n, value.shape, weights[n].shape))
        model.set_params(dict((n, mx.nd.array(v)) for n, v in new.items()), {},
                         force_init=True)
        return
    own = model.collect_params()
    for c, n, value in zip(_CANONICAL, names, arrays):
        own[n].set_data(mx.nd.array(canonical.checked(value, c, own[n].shape),
                                    ctx=fw.DEVICE["ctx"]))


def outputs(state, x):
    """The logits of a batch (N, T) of word indices, as numpy."""
    model = state["model"]
    data = _array(_layout(x))
    if fw.DEVICE["api"] == "module":
        # a Module of the symbol up to the logits (SoftmaxOutput outputs probabilities), with
        # the training Module's weights, bound for this batch
        internals = model.symbol.get_internals()
        name = [n for n in internals.list_outputs() if n.startswith("fullyconnected")][-1]
        logits = mx.mod.Module(internals[name], label_names=None, context=fw.DEVICE["ctx"])
        logits.bind(data_shapes=[mx.io.DataDesc("data", data.shape, layout="TN")],
                    for_training=False)
        weights, statistics = model.get_params()
        logits.set_params(weights, statistics)
        logits.forward(mx.io.DataBatch(data=[data], label=None), is_train=False)
        return logits.get_outputs()[0].asnumpy()
    return model(data).asnumpy()
