"""CNN (VGG-style, CIFAR-10) in Caffe2.

One file serves the 2017 image (Caffe2 v0.8.1, Python 3.5) and the Caffe2 of the torch 1.8.1
wheel. Model as in the 2017 benchmark's Caffe2_CNN notebook (ilkarman/DeepLearningFrameworks,
notebooks/Caffe2_CNN.ipynb): brew helpers on a model_helper.ModelHelper, NCHW, brew's default
initialisers (XavierFill weights, zero biases), a softmax then LabelCrossEntropy and
AveragedLoss, gradients by AddGradientOperators, SGD with momentum from optimizer.build_sgd
(policy 'fixed'), one workspace.RunNet per minibatch, and a second net with is_test set (dropout
off) sharing the trained weights for the test set. Sizes in common/params.py.
"""
import numpy as np
from caffe2.python import brew, core, model_helper, optimizer, workspace

from common import canonical
from frameworks import caffe2 as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "init": "brew defaults: XavierFill weights, ConstantFill(0) biases"}


def _arg_scope(is_test):
    scope = {"order": "NCHW"}
    if fw.DEVICE["gpu"]:
        scope.update(use_cudnn=True, cudnn_exhaustive_search=True)  # as 2017's notebook
    # dropout on for training, off for the test net (later brew wants it said either way)
    scope["is_test"] = is_test
    return scope


def _create(m, p):
    c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
    pad, pool = k // 2, p["pool"]  # 'same' padding
    # brew.conv and brew.fc default to weight_init ("XavierFill", {}) and bias_init
    # ("ConstantFill", {}): what 2017's Caffe2_CNN used (it passed neither); written out here
    xavier, zero = ("XavierFill", {}), ("ConstantFill", {})
    # no gradient for the images: the first convolution skips computing it (as 2017)
    x = brew.conv(m, "data", "conv1", dim_in=p["channels"], dim_out=c1, kernel=k, pad=pad,
                  weight_init=xavier, bias_init=zero, no_gradient_to_input=1)
    x = brew.relu(m, x, "relu1")
    x = brew.conv(m, x, "conv2", dim_in=c1, dim_out=c1, kernel=k, pad=pad,
                  weight_init=xavier, bias_init=zero)
    x = brew.max_pool(m, x, "pool1", kernel=pool, stride=pool)
    x = brew.relu(m, x, "relu2")
    x = brew.dropout(m, x, "drop1", ratio=p["dropout_conv"])
    x = brew.conv(m, x, "conv3", dim_in=c1, dim_out=c2, kernel=k, pad=pad,
                  weight_init=xavier, bias_init=zero)
    x = brew.relu(m, x, "relu3")
    x = brew.conv(m, x, "conv4", dim_in=c2, dim_out=c2, kernel=k, pad=pad,
                  weight_init=xavier, bias_init=zero)
    x = brew.max_pool(m, x, "pool2", kernel=pool, stride=pool)
    x = brew.relu(m, x, "relu4")
    x = brew.dropout(m, x, "drop2", ratio=p["dropout_conv"])
    flat = c2 * (p["height"] // 4) * (p["width"] // 4)  # FC flattens NCHW itself
    x = brew.fc(m, x, "fc1", dim_in=flat, dim_out=p["dense_units"],
                weight_init=xavier, bias_init=zero)
    x = brew.relu(m, x, "relu5")
    x = brew.dropout(m, x, "drop3", ratio=p["dropout_dense"])
    x = brew.fc(m, x, "fc2", dim_in=p["dense_units"], dim_out=p["n_classes"],
                weight_init=xavier, bias_init=zero)
    # Caffe2_CNN ends in a softmax and takes LabelCrossEntropy of it (not SoftmaxWithLoss)
    return brew.softmax(m, x, "softmax")


def build_model(p):
    model = model_helper.ModelHelper(name="train_net", arg_scope=_arg_scope(False))
    with core.DeviceScope(fw.DEVICE["opts"]):  # every operator on the device (seeded fillers)
        model.softmax = _create(model, p)
    return model


def count_parameters(model):
    # parameters are blobs filled by the init net; count them from the fillers' shapes
    params = set(str(b) for b in model.params)
    total = 0
    for op in model.param_init_net.Proto().op:
        if op.output[0] in params:
            shape = [a.ints for a in op.arg if a.name == "shape"][0]
            total += int(np.prod(shape))
    return total


def build_trainer(model, p):
    opts = fw.DEVICE["opts"]
    with core.DeviceScope(opts):
        xent = model.LabelCrossEntropy([model.softmax, "label"], "xent")
        loss = model.AveragedLoss(xent, "loss")
        model.AddGradientOperators([loss])
        optimizer.build_sgd(model, base_learning_rate=p["lr"], policy="fixed",
                            momentum=p["momentum"])
    # placeholders of the batch's shape, then the weights, then the nets
    bs = p["batch_size"]
    workspace.FeedBlob("data", np.zeros((bs, p["channels"], p["height"], p["width"]),
                                        np.float32), device_option=opts)
    workspace.FeedBlob("label", np.zeros(bs, np.int32), device_option=opts)
    workspace.RunNetOnce(model.param_init_net)
    workspace.CreateNet(model.net)
    # the test net: same blobs (init_params=False), dropout off
    test = model_helper.ModelHelper(name="test_net", init_params=False,
                                    arg_scope=_arg_scope(True))
    with core.DeviceScope(opts):
        _create(test, p)
    workspace.CreateNet(test.net, overwrite=True)
    return {"train": model, "test": test, "loss": str(loss)}


def train_step(state, x, y):
    opts = fw.DEVICE["opts"]
    workspace.FeedBlob("data", x, device_option=opts)  # host-to-device copy
    workspace.FeedBlob("label", y.astype(np.int32), device_option=opts)  # int32 labels
    workspace.RunNet(state["train"].net)
    return state["loss"]  # the loss blob's name: it lives in the workspace


def to_float(loss):
    return float(np.asarray(workspace.FetchBlob(loss)).ravel()[0])


def predict(state, x):
    workspace.FeedBlob("data", x, device_option=fw.DEVICE["opts"])
    workspace.RunNet(state["test"].net)
    return np.argmax(workspace.FetchBlob("softmax"), axis=-1)


def sync(state):
    # RunNet returns when the net has run on the CPU; on a GPU, fetching a blob waits for the
    # device's queued work
    if fw.DEVICE["gpu"]:
        workspace.FetchBlob(state["loss"])


# Model equivalence (dlbench check-models): the weights in the canonical form. The blobs hold
# the canonical layouts (brew.conv's <name>_w OIHW, brew.fc's <name>_w (out, in), FC flattens
# NCHW): canonical "<layer>.weight" / ".bias" is blob <layer>_w / <layer>_b.
_LAYERS = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")


def export_params(state):
    out = {}
    for name in _LAYERS:
        out[name + ".weight"] = np.array(workspace.FetchBlob(name + "_w"))
        out[name + ".bias"] = np.array(workspace.FetchBlob(name + "_b"))
    return out


def import_params(state, params):
    # the blobs exist once build_trainer has run the init net; the test net reads the same blobs
    canonical.check_keys(params, [n + s for n in _LAYERS for s in (".weight", ".bias")])
    for name in _LAYERS:
        for suffix, key in (("_w", ".weight"), ("_b", ".bias")):
            value = np.ascontiguousarray(params[name + key], dtype=np.float32)
            have = workspace.FetchBlob(name + suffix).shape
            if value.shape != tuple(have):
                raise ValueError("%s: shape %s, blob %s is %s"
                                 % (name + key, value.shape, name + suffix, tuple(have)))
            workspace.FeedBlob(name + suffix, value, device_option=fw.DEVICE["opts"])


def outputs(state, x):
    """The logits (blob fc2, before the softmax) of a batch, through the test net (dropout
    off), as numpy."""
    workspace.FeedBlob("data", np.ascontiguousarray(x, dtype=np.float32),
                       device_option=fw.DEVICE["opts"])
    workspace.RunNet(state["test"].net)
    return np.array(workspace.FetchBlob("fc2"))
