"""RNN (GRU sentiment classifier, IMDB) in MXNet, both APIs the 2017 benchmark ran.

module: the fused RNN operator (mx.sym.RNN through mx.rnn.FusedRNNCell: cuDNN's GRU on a GPU,
MXNet's own CPU kernel otherwise), trained by mx.mod.Module, Glorot-uniform weights
(notebook MXNet_RNN: Xavier(rnd_type='uniform'); the fused parameter vector is initialised
piece by piece, weights by that initialiser, biases zero). gluon: gluon.rnn.GRU, the same
fused operator inside, Xavier() as notebook Gluon_RNN. Time-major (TNC) in both: the fused
operator's own layout, fed as notebook MXNet_RNN_TNC fed it (batches transposed on the host;
MXNet_RNN's NTC FusedRNNCell and Gluon_RNN's layout="NTC" GRU transposed inside the graph).
The GRU holds two bias vectors (cuDNN's form): 68,100 weights. One file serves MXNet 0.12.1
(the 2017 image: its fused RNN operator runs on GPUs only) and 1.9.
"""
import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from frameworks import mxnet as fw

SETTINGS = {"layout": "TNC (time-major)"}


def _symbol(p):
    """Embedding, fused GRU, last step, dense 2, SoftmaxOutput (MXNet_RNN)."""
    x = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=p["max_features"],
                         output_dim=p["embedding"])                       # (T, N, embedding)
    gru = mx.rnn.FusedRNNCell(p["hidden"], num_layers=1, mode="gru", prefix="gru_")
    out, _ = gru.unroll(p["maxlen"], inputs=x, layout="TNC", merge_outputs=True)  # zero state
    x = mx.sym.FullyConnected(mx.sym.SequenceLast(out), num_hidden=p["n_classes"])  # logits
    return mx.sym.SoftmaxOutput(x, mx.sym.Variable("softmax_label"), name="softmax")


class _GRUClassifier(gluon.Block):
    """The same network as Gluon blocks (Gluon_RNN). A Block, as the notebook wrote it (MXNet
    0.12's gluon.rnn.GRU is no HybridBlock); hybridize() hybridizes its children where the
    version can. Input sizes are given, so the weights exist before the first batch."""

    def __init__(self, p, **kwargs):
        super(_GRUClassifier, self).__init__(**kwargs)
        with self.name_scope():
            self.embedding = gluon.nn.Embedding(p["max_features"], p["embedding"])
            self.gru = gluon.rnn.GRU(p["hidden"], num_layers=1, layout="TNC",
                                     input_size=p["embedding"])
            self.fc = gluon.nn.Dense(p["n_classes"], in_units=p["hidden"])

    def forward(self, x):
        out = self.gru(self.embedding(x))  # initial state: zeros
        return self.fc(out[out.shape[0] - 1])  # last step -> logits; softmax in the loss


def _version():
    return tuple(int(part) for part in mx.__version__.split(".")[:2])


def build_model(p):
    if fw.DEVICE["api"] == "module":
        if not fw.DEVICE["gpu"] and _version() < (1, 3):
            raise RuntimeError("MXNet %s's fused RNN operator runs on GPUs only (its CPU GRU "
                               "came in 1.3): use --device gpu, the gluon variant, or the "
                               "mxnet-1.9 image" % mx.__version__)
        model = mx.mod.Module(_symbol(p), context=fw.DEVICE["ctx"])
        # the batch is axis 1 of time-major data: Module reads it from the layout
        model.bind(data_shapes=[mx.io.DataDesc("data", (p["maxlen"], p["batch_size"]),
                                               layout="TN")],
                   label_shapes=[("softmax_label", (p["batch_size"],))])
        model.init_params(initializer=mx.init.Xavier(rnd_type="uniform"))
        return model
    model = _GRUClassifier(p)
    model.initialize(mx.init.Xavier(), ctx=fw.DEVICE["ctx"])
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
        return {"model": model}
    return {"model": model,
            "loss": gluon.loss.SoftmaxCrossEntropyLoss(),
            "trainer": gluon.Trainer(model.collect_params(), "adam", adam)}


def _array(array):
    return mx.nd.array(array, ctx=fw.DEVICE["ctx"])  # host-to-device copy, timed as in 2017


def _time_major(x):
    return np.ascontiguousarray(x.T)  # (batch, time) -> (time, batch), as MXNet_RNN_TNC fed it


def train_step(state, x, y):
    model = state["model"]
    xb, yb = _array(_time_major(x)), _array(y.astype(np.float32))
    if fw.DEVICE["api"] == "module":
        model.forward(mx.io.DataBatch(data=[xb], label=[yb]), is_train=True)
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
        model.forward(mx.io.DataBatch(data=[_array(_time_major(x))], label=None),
                      is_train=False)
        out = model.get_outputs()[0]
    else:
        out = model(_array(_time_major(x)))
    return mx.nd.argmax(out, axis=1).asnumpy().astype(np.int64)


def sync(state):
    mx.nd.waitall()  # MXNet's engine runs every operator asynchronously, CPU too
