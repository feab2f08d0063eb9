"""DenseNet-121 on ChestX-ray14 in MXNet, both APIs (the variant's).

gluon (the MXNet(Gluon) row): as 2017's Gluon_MultiGPU notebook (ilkarman/DeepLearningFrameworks):
the model zoo's densenet121 with its classifier replaced by a 14-way Dense, hybridized,
SigmoidBinaryCrossEntropyLoss over the logits, gluon.Trainer Adam lr 1e-4. Random weights here
(2017 loaded the zoo's ImageNet weights, a download). NCHW.
module: 2017 had no symbolic-API DenseNet notebook; this is the same zoo network as a symbol
(the HybridBlock called on mx.sym.var('data')) under LogisticRegressionOutput (sigmoid forward,
sigmoid - label backward: binary cross-entropy on the logits; grad_scale 1/14 makes it the mean
over the labels), trained by mx.mod.Module with Adam, which splits each batch over its contexts
itself.

Data: Gluon's own loader, as 2017: a gluon.data.Dataset of (PNG file, labels) whose
__getitem__ decodes with mx.image.imdecode (OpenCV inside libmxnet: no Pillow), resizes to 264
(mx.image.imresize), crops 224 at random and flips at random, then
gluon.data.vision.transforms' ToTensor and Normalize (ImageNet mean/sd); gluon.data.DataLoader
with num_workers worker processes (MXNet's multiprocessing pool, batches in shared memory),
last_batch='discard'. 2017 used RandomResizedCrop (a random scale and aspect, then 224); this
file crops as the task's other columns do. Both APIs take their batches from it.

Several devices (--gpus N / --workers N): multi-context, as 2017: the weights on every context
(mx.gpu(i); mx.cpu(i) on a CPU: MXNet devices of their own, each with its own engine queue, on
the same processor). gluon: gluon.utils.split_and_load splits each global batch, one
forward/backward per context (queued asynchronously, so the contexts run side by side), and the
Trainer's kvstore ('device') sums the gradients before one Adam step on the whole batch;
module: Module(context=[...]) does the same split and kvstore 'device'. Batch-norm statistics
stay per context, as in 2017.
"""
import os

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from common import canonical, chestxray
from frameworks import mxnet as fw

EQUIVALENCE = {"family": "densenet121-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "network": "gluon model_zoo densenet121, output -> Dense(14) "
            "(module: the same network as a symbol)",
            "loader": "gluon.data.DataLoader (worker processes), mx.image decode (+ resize: "
                      "originals only, see data.images), random crop + flip",
            "data_parallel": "multi-context (gluon split_and_load / Module), kvstore 'device', "
                             "one process"}

# count_parameters counts trainable weights (Gluon's grad_req 'write', the Module's arg_params;
# running statistics not counted): the zoo's densenet121 with its 1000-way output has 7,978,856
# (torchvision's count); the 14-way output replaces 1024 x 1000 + 1000 by 1024 x 14 + 14.


def start_devices(p, rank):
    n = p["devices"]
    if fw.DEVICE["gpu"]:
        if fw.gpu_count() < n:
            raise RuntimeError("%d GPUs asked for, MXNet sees %d" % (n, fw.gpu_count()))
        contexts = [mx.gpu(i) for i in range(n)]
    else:
        contexts = [mx.cpu(i) for i in range(n)]
    method = "%s multi-context, kvstore 'device'" % fw.DEVICE["api"]
    return {"contexts": contexts, "backend": method if n > 1 else "one context"}


def build_model(p, dist):
    # the zoo's densenet121 is p's network (blocks 6/12/24/16, growth 32, bn_size 4,
    # compression 0.5; batch-norm eps 1e-5, MXNet's default)
    net = gluon.model_zoo.vision.densenet121(pretrained=False, classes=1000)
    if p["n_classes"] != 1000:
        with net.name_scope():
            net.output = gluon.nn.Dense(p["n_classes"], in_units=1024)  # as 2017 replaced it
    # the zoo ends its features with a 7x7 average pooling: on 224x224 images that is global
    # average pooling, which this is on any size (the tests' --image-size)
    for key, block in list(net.features._children.items()):
        if isinstance(block, gluon.nn.AvgPool2D) and block._kwargs.get("kernel") == (7, 7):
            net.features._children[key] = gluon.nn.GlobalAvgPool2D()
    if fw.DEVICE["api"] == "module":
        logits = net(mx.sym.var("data"))  # the same network, as a symbol
        loss = mx.sym.LogisticRegressionOutput(logits, mx.sym.var("label"),
                                               grad_scale=1.0 / p["n_classes"], name="bce")
        model = mx.mod.Module(loss, data_names=["data"], label_names=["label"],
                              context=dist["contexts"])
        model.bind(data_shapes=[("data", (p["global_batch"], p["channels"], p["height"],
                                          p["width"]))],
                   label_shapes=[("label", (p["global_batch"], p["n_classes"]))])
        model.init_params(initializer=mx.init.Xavier())
        return model
    net.initialize(mx.init.Xavier(), ctx=dist["contexts"])
    shape = (1, p["channels"], p["height"], p["width"])
    for ctx in dist["contexts"]:
        net(mx.nd.zeros(shape, ctx=ctx))  # sizes the deferred weights on every context
    net.hybridize()
    return net


def count_parameters(model):
    if fw.DEVICE["api"] == "module":
        weights, _ = model.get_params()  # arg_params: trainable; aux_params: running stats
        return sum(w.size for w in weights.values())
    return sum(w.data(w.list_ctx()[0]).size for w in model.collect_params().values()
               if w.grad_req != "null")


def build_trainer(model, p, dist):
    contexts = dist["contexts"]
    kvstore = "device" if len(contexts) > 1 else None
    optimizer = {"learning_rate": p["global_lr"], "beta1": p["beta1"], "beta2": p["beta2"],
                 "epsilon": p["eps"]}
    if fw.DEVICE["api"] == "module":
        # Module scales the summed gradients by 1 / batch size: Adam on the mean loss
        model.init_optimizer(kvstore=kvstore or "local", optimizer="adam",
                             optimizer_params=sorted(optimizer.items()))
        return {"model": model, "contexts": contexts, "batch": p["global_batch"]}
    trainer = gluon.Trainer(model.collect_params(), "adam", optimizer, kvstore=kvstore)
    return {"model": model, "trainer": trainer, "contexts": contexts,
            "loss": gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)}


class XrayImages(gluon.data.Dataset):
    """(PNG file, labels) records -> (normalised CHW float32 image, labels)."""

    def __init__(self, paths, labels, p, train, seed, resize):
        self.paths, self.labels = list(paths), np.asarray(labels, np.float32)
        self.size, self.h, self.w, self.train = p["resize"], p["height"], p["width"], train
        self.resize = resize  # None: prepared copies, already p["resize"] square
        self.seed, self.rng, self.pid = seed, None, None
        T = gluon.data.vision.transforms
        self.to_tensor = T.Compose([T.ToTensor(), T.Normalize(p["mean"], p["sd"])])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with open(self.paths[i], "rb") as f:
            image = mx.image.imdecode(f.read(), flag=1)  # HWC uint8 RGB (grey -> 3 channels)
        if self.train:  # (bilinear resize to 264,) random 224 crop, random flip
            if self.pid != os.getpid():  # a generator of its own in each worker process
                self.pid = os.getpid()
                self.rng = np.random.RandomState((self.seed * 1000003 + self.pid) % 2 ** 32)
            if self.resize:
                image = mx.image.imresize(image, self.size, self.size)
            top = self.rng.randint(0, self.size - self.h + 1)
            left = self.rng.randint(0, self.size - self.w + 1)
            image = mx.image.fixed_crop(image, left, top, self.w, self.h)
            if self.rng.rand() < 0.5:
                image = mx.nd.flip(image, axis=1)
        else:  # evaluation: resized to 224, no augmentation
            image = mx.image.imresize(image, self.w, self.h)
        return self.to_tensor(image), self.labels[i]


class Synthetic(gluon.data.Dataset):
    """Synthetic mode: the images stay in RAM (2017's synthetic table: an ArrayDataset,
    num_workers=0); image i is pool row i % pool."""

    def __init__(self, split):
        self.split = split

    def __len__(self):
        return self.split["size"]

    def __getitem__(self, i):
        row = chestxray.synthetic_rows(self.split, i, 1)[0]
        return self.split["x"][row], self.split["labels"][row]


class _Epochs(object):
    """A Gluon DataLoader as the runner iterates it: one pass = one epoch of (images as a CPU
    NDArray, labels as numpy) batches."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        for x, y in self.loader:
            yield x, y.asnumpy()


def make_loader(split, p, dist, train, seed):
    """One pass = one epoch of (images NCHW, labels (N, 14)) batches: global batches for
    training (complete ones, shuffled), every image in order else."""
    batch = p["global_batch"] if train else p["batch_size"]
    last = "discard" if train else "keep"
    if "x" in split:  # in RAM, in order, as 2017's synthetic loader (shuffle=False, no workers)
        return _Epochs(gluon.data.DataLoader(Synthetic(split), batch_size=batch,
                                             last_batch=last))
    return _Epochs(gluon.data.DataLoader(
        XrayImages(split["paths"], split["labels"], p, train, seed,
                   chestxray.train_resize(split, p)), batch_size=batch,
        shuffle=train, last_batch=last, num_workers=p["loader_workers"]))


def _split(array, contexts, even=True):
    return gluon.utils.split_and_load(_nd(array), contexts, even_split=even)  # host-to-device


def _nd(array):
    if isinstance(array, mx.nd.NDArray):
        return array
    return mx.nd.array(np.ascontiguousarray(array))


def _padded(x, n):
    """x (NDArray) with its last image repeated up to n images: the Module is bound to n."""
    if x.shape[0] == n:
        return x
    return mx.nd.concat(x, mx.nd.repeat(x[x.shape[0] - 1:], n - x.shape[0], axis=0), dim=0)


def train_step(state, x, y):
    model, contexts = state["model"], state["contexts"]
    if fw.DEVICE["api"] == "module":
        y = _nd(y)
        model.forward_backward(mx.io.DataBatch(data=[_nd(x)], label=[y]))
        model.update()
        return model.get_outputs(merge_multi_context=True)[0], y  # probabilities, labels
    xs, ys = _split(x, contexts), _split(y, contexts)
    with autograd.record():
        losses = [state["loss"](model(xb), yb) for xb, yb in zip(xs, ys)]
    for loss in losses:
        loss.backward()
    state["trainer"].step(x.shape[0])  # the gradient of the mean loss over the global batch
    return losses


def to_float(loss):
    if fw.DEVICE["api"] == "module":  # the mean binary cross-entropy of the probabilities
        probs, y = loss
        return chestxray.bce(y.asnumpy(), probs.asnumpy())
    return float(np.mean([l.mean().asscalar() for l in loss]))


def predict(state, x):
    if fw.DEVICE["api"] == "module":
        x = _nd(x)
        n = x.shape[0]
        state["model"].forward(mx.io.DataBatch(data=[_padded(x, state["batch"])]),
                               is_train=False)
        return state["model"].get_outputs(merge_multi_context=True)[0].asnumpy()[:n]
    parts = _split(x, state["contexts"][:len(x)], even=False)
    outs = [mx.nd.sigmoid(state["model"](xb)) for xb in parts]
    return np.concatenate([o.asnumpy() for o in outs])  # probabilities, for the AUC


def sync(state):
    mx.nd.waitall()


def stop_devices(dist):
    mx.nd.waitall()  # one process: nothing to leave


# Model equivalence (dlbench check-models): the weights in the canonical form, both APIs.
# MXNet's layouts are the canonical ones (convolutions OIHW, Dense (out, in)); batch-norm gamma,
# beta, running_mean, running_var -> weight, bias, running_mean, running_var. Both APIs hold the
# arrays in network order (the Gluon blocks' registration; the symbol's arguments and auxiliary
# states), trainable ones and running statistics apart; the zoo's names (densenet0_stage1_conv0
# ..) say nothing of the layer, so the canonical names follow that order: after the stem, a 1x1
# convolution followed by a 3x3 one is a dense layer, a 1x1 one alone a transition.

def _native(state):
    """([(MXNet name, shape)] of the trainable arrays, [...] of the running statistics), each in
    network order."""
    model = state["model"]
    if fw.DEVICE["api"] == "module":
        weights, statistics = model.get_params()
        return ([(n, weights[n].shape) for n in model.symbol.list_arguments() if n in weights],
                [(n, statistics[n].shape) for n in model.symbol.list_auxiliary_states()])
    own = model.collect_params()
    names = list(own.keys())  # a ParameterDict has no len()
    return ([(n, own[n].shape) for n in names if own[n].grad_req != "null"],
            [(n, own[n].shape) for n in names if own[n].grad_req == "null"])


def _canonical_names(trainable):
    """The canonical names of the trainable arrays and of the running statistics, in the
    network order of _native, from the convolutions' kernel sizes."""
    kernels = [shape[2] for _n, shape in trainable if len(shape) == 4]
    kinds, i = [], 1  # kernels[0]: the stem
    while i < len(kernels):
        if i + 1 < len(kernels) and kernels[i] == 1 and kernels[i + 1] == 3:
            kinds.append("layer")
            i += 2
        else:
            kinds.append("transition")
            i += 1
    norms = ["features.norm0"]
    weights = ["features.conv0.weight", "features.norm0.weight", "features.norm0.bias"]
    for name, kind in zip(canonical.densenet_unit_names(kinds), kinds):
        parts = (("norm1", "conv1", "norm2", "conv2") if kind == "layer" else ("norm", "conv"))
        for part in parts:
            if part.startswith("norm"):
                norms.append("%s.%s" % (name, part))
                weights += ["%s.%s.weight" % (name, part), "%s.%s.bias" % (name, part)]
            else:
                weights.append("%s.%s.weight" % (name, part))
    norms.append("features.norm5")
    weights += ["features.norm5.weight", "features.norm5.bias", "classifier.weight",
                "classifier.bias"]
    statistics = [n + s for n in norms for s in (".running_mean", ".running_var")]
    return weights, statistics


_SUFFIX = {"norm.weight": "gamma", "norm.bias": "beta", "running_mean": "running_mean",
           "running_var": "running_var", "weight": "weight", "bias": "bias"}


def _pairs(state):
    """[(canonical name, MXNet name, shape, trainable)]; a canonical name whose kind the MXNet
    name does not end with (gamma for a batch-norm weight, ...) is an error."""
    trainable, statistics = _native(state)
    weights, stats = _canonical_names(trainable)
    if (len(weights), len(stats)) != (len(trainable), len(statistics)):
        raise ValueError("the MXNet DenseNet holds %d weight arrays and %d statistics, "
                         "DenseNet-121 %d and %d" % (len(trainable), len(statistics),
                                                     len(weights), len(stats)))
    pairs = []
    for names, native, is_weight in ((weights, trainable, True), (stats, statistics, False)):
        for c, (n, shape) in zip(names, native):
            leaf = c.rsplit(".", 1)[1]
            norm = ".norm" in c and leaf in ("weight", "bias")
            suffix = _SUFFIX["norm." + leaf if norm else leaf]
            if not n.endswith(suffix):
                raise ValueError("MXNet's %s in the place of %s (expected *%s)"
                                 % (n, c, suffix))
            pairs.append((c, n, tuple(shape), is_weight))
    return pairs


def export_params(state):
    pairs = _pairs(state)
    if fw.DEVICE["api"] == "module":
        weights, statistics = state["model"].get_params()
        return dict((c, (weights if w else statistics)[n].asnumpy()) for c, n, _, w in pairs)
    own = state["model"].collect_params()
    return dict((c, own[n].data(own[n].list_ctx()[0]).asnumpy()) for c, n, _, _ in pairs)


def import_params(state, params):
    pairs = _pairs(state)
    canonical.check_keys(params, [c for c, _, _, _ in pairs])
    if fw.DEVICE["api"] == "module":
        new = ({}, {})
        for c, n, shape, w in pairs:
            new[0 if w else 1][n] = mx.nd.array(canonical.checked(params[c], c, shape))
        state["model"].set_params(new[0], new[1], force_init=True)
        return
    own = state["model"].collect_params()
    for c, n, shape, _ in pairs:
        own[n].set_data(mx.nd.array(canonical.checked(params[c], c, shape)))  # on every context


def _logits_module(model, shape, ctx):
    """A Module of the symbol up to the logits (the input of LogisticRegressionOutput, which
    outputs probabilities), holding the training Module's weights, bound for the batch's
    shape."""
    logits = mx.mod.Module(model.symbol.get_children()[0], data_names=["data"],
                           label_names=None, context=ctx)
    logits.bind(data_shapes=[("data", shape)], for_training=False)
    weights, statistics = model.get_params()
    logits.set_params(weights, statistics)
    return logits


def outputs(state, x):
    """The eval-mode logits (N, 14) as numpy (batch-norm on its running statistics)."""
    ctx = state["contexts"][0]
    if fw.DEVICE["api"] == "module":
        logits = _logits_module(state["model"], x.shape, ctx)
        logits.forward(mx.io.DataBatch(data=[mx.nd.array(x, ctx=ctx)], label=None),
                       is_train=False)
        return logits.get_outputs()[0].asnumpy()
    return state["model"](mx.nd.array(x, ctx=ctx)).asnumpy()  # not recording: running stats
