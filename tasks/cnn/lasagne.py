"""CNN (VGG-style, CIFAR-10) in Lasagne on Theano: 2017's Theano_Lasagne_CNN program.

As the notebook (ilkarman/DeepLearningFrameworks, notebooks/Theano_Lasagne_CNN.ipynb) built it:
an InputLayer (None, 3, 32, 32), Conv2DLayer(pad='same') twice, MaxPool2DLayer, DropoutLayer,
the same again, FlattenLayer, DenseLayer(512), DropoutLayer, DenseLayer(10, softmax), every
layer with Lasagne's defaults (Glorot-uniform weights, zero biases, rectify); the loss is
objectives.categorical_crossentropy of the softmax, its mean, updates.momentum; one
theano.function returns the loss and the batch's accuracy, as the notebook's train_func did
(compiled on the first step: the runner's warm-up, a minute or so of g++ in a fresh container);
prediction is the deterministic output's argmax. Sizes in common/params.py.
"""
import lasagne.layers as L
import lasagne.nonlinearities as nl
import lasagne.objectives as obj
import lasagne.updates as upd
import numpy as np
import theano
import theano.tensor as T

from common import canonical

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW"}  # Lasagne's Conv2DLayer takes (batch, channels, rows, columns)


def build_model(p):
    c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
    pool = (p["pool"], p["pool"])
    h = L.InputLayer(shape=(None, p["channels"], p["height"], p["width"]))
    h = L.Conv2DLayer(h, num_filters=c1, filter_size=(k, k), pad="same")
    h = L.Conv2DLayer(h, num_filters=c1, filter_size=(k, k), pad="same")
    h = L.DropoutLayer(L.MaxPool2DLayer(h, pool_size=pool, stride=pool), p["dropout_conv"])
    h = L.Conv2DLayer(h, num_filters=c2, filter_size=(k, k), pad="same")
    h = L.Conv2DLayer(h, num_filters=c2, filter_size=(k, k), pad="same")
    h = L.DropoutLayer(L.MaxPool2DLayer(h, pool_size=pool, stride=pool), p["dropout_conv"])
    h = L.DropoutLayer(L.DenseLayer(L.FlattenLayer(h), p["dense_units"]), p["dropout_dense"])
    return L.DenseLayer(h, p["n_classes"], name="output", nonlinearity=nl.softmax)


def count_parameters(model):
    return sum(w.get_value(borrow=True).size for w in L.get_all_params(model, trainable=True))


def build_trainer(model, p):
    x = L.get_all_layers(model)[0].input_var
    y = T.ivector("y")
    pred = L.get_output(model)  # dropout on
    loss = T.mean(obj.categorical_crossentropy(pred, y))
    updates = upd.momentum(loss, L.get_all_params(model, trainable=True), p["lr"],
                           p["momentum"])  # v = momentum * v - lr * g; w += v
    # the notebook's logged training accuracy, of the same forward pass
    accuracy = T.mean(T.cast(obj.categorical_accuracy(pred, y), theano.config.floatX))
    # theano.function compiles on the first train_step / predict (the runner's warm-up and
    # first evaluation batch)
    return {"model": model, "x": x, "y": y, "loss": loss, "accuracy": accuracy,
            "updates": updates, "train": None, "predict": None}


def train_step(state, x, y):
    if state["train"] is None:
        state["train"] = theano.function([state["x"], state["y"]],
                                         [state["loss"], state["accuracy"]],
                                         updates=state["updates"])
    return state["train"](np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int32))


def to_float(loss):
    return float(np.asarray(loss[0]).ravel()[0])  # [loss, accuracy]


def predict(state, x):
    if state["predict"] is None:  # deterministic: dropout off
        state["predict"] = theano.function(
            [state["x"]], T.argmax(L.get_output(state["model"], deterministic=True), axis=1))
    return state["predict"](np.ascontiguousarray(x, dtype=np.float32))


def sync(state):
    pass  # theano.function returns host values: nothing is left queued


# Model equivalence (dlbench check-models): the weights in the canonical form. Lasagne's
# Conv2DLayer is a true convolution (Theano's conv2d flips its filters), the canonical kernels
# cross-correlations: a kernel is flipped in both spatial axes each way. Dense weights are
# (in, out) here, (out, in) canonically; the flatten order is NCHW in both
# (canonical.swap_true_convolution). get_all_params lists W, b of each layer in the network's
# order: canonical.CNN_WEIGHTS.


def export_params(state):
    values = L.get_all_param_values(state["model"], trainable=True)
    return dict((c, canonical.swap_true_convolution(v))
                for c, v in zip(canonical.CNN_WEIGHTS, values))


def import_params(state, params):
    canonical.check_keys(params, canonical.CNN_WEIGHTS)
    for c, w in zip(canonical.CNN_WEIGHTS, L.get_all_params(state["model"], trainable=True)):
        w.set_value(canonical.checked(canonical.swap_true_convolution(params[c]), c,
                                      w.get_value(borrow=True).shape))


def outputs(state, x):
    """The logits of a batch, dropout off, as numpy (the output layer's softmax input)."""
    if state.get("logits") is None:
        out = state["model"]  # DenseLayer(softmax): its input, weights and bias give the logits
        h = L.get_output(out.input_layer, deterministic=True)
        state["logits"] = theano.function([state["x"]], T.dot(h, out.W) + out.b)
    return state["logits"](np.ascontiguousarray(x, dtype=np.float32))
