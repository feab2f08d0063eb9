"""DenseNet-121 on ChestX-ray14 in Chainer.

2017's Chainer_MultiGPU notebook (ilkarman/DeepLearningFrameworks) loaded DenseNet-121 from a
Caffe model (shicai/DenseNet-Caffe, a download) through chainer.links.caffe.CaffeFunction,
put a 14-way Linear on its pool5 and trained it as L.Classifier(lossfun=sigmoid_cross_entropy)
with Adam(alpha 1e-4, 0.9, 0.999). Nothing is downloaded here and Chainer has no DenseNet
link, so the same network is written out as chainer.Chain links with torchvision's structure
(the Caffe model's too: conv 7x7/2, max-pool 3x3/2, dense blocks 6/12/24/16 of BN-ReLU-conv1x1
(128)-BN-ReLU-conv3x3 (32), transitions BN-ReLU-conv1x1 (half)-avg-pool 2x2, BN-ReLU, global
average pooling), bias-free convolutions, He-normal weights, batch-norm eps 1e-5 (the notebook
raised the Caffe model's to 1e-5 too). NCHW.

Data: Chainer's own iterator, as 2017: a chainer.dataset.DatasetMixin whose get_example reads
the PNG with Pillow (what chainer.datasets.ImageDataset reads with), resizes to 264, crops 224
at random and flips at random (2017 used chainercv.transforms, not in the image), normalises
with the ImageNet mean/sd; chainer.iterators.MultiprocessIterator with n_processes worker
processes (shared memory), repeat=False, one pass per epoch.

Several devices (--gpus N / --workers N): chainer.training.updaters.ParallelUpdater (2017 ran
MultiprocessParallelUpdater, which needs NCCL and GPUs; ChainerMN needs MPI, not in the image):
the model copied to each device, the global batch split, one forward/backward per copy, the
gradients added into the main copy, one Adam step, the weights copied back. Each copy's loss is
its share's mean, so the summed gradient is N times the global mean's (Adam is nearly blind
to that scale). On a CPU the N devices are all the one CPU (@numpy) and the copies run one
after another in this process: it runs the data-parallel logic, it cannot be faster than one
device.
"""
import os

import numpy as np
import chainer
import chainer.functions as F
import chainer.links as L
from chainer import optimizers

from common import canonical, chestxray
from common import cpus as host_cpus
from frameworks import chainer as fw

EQUIVALENCE = {"family": "densenet121-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "network": "DenseNet-121 written out as chainer.Chain links",
            "loader": "DatasetMixin + Pillow decode (+ resize: originals only, see "
                      "data.images), random crop + flip, "
                      "chainer.iterators.MultiprocessIterator (CPU-count worker processes on "
                      "one device, 2 per device on several; prefetch 10: 2017's)",
            "data_parallel": "chainer.training.updaters.ParallelUpdater, one process",
            "switches": "type_check off; GPU: a 512 MB cuDNN workspace (2017's Chainer_MultiGPU)"}

# torchvision's densenet121 count: 7,978,856 with the 1000-way classifier (batch-norm running
# statistics not counted); the 14-way one replaces 1024 x 1000 + 1000 by 1024 x 14 + 14.


def _conv(cin, cout, k, stride=1, pad=0):
    return L.Convolution2D(cin, cout, ksize=k, stride=stride, pad=pad, nobias=True,
                           initialW=chainer.initializers.HeNormal())


def _bn(channels, p):
    return L.BatchNormalization(channels, eps=p["bn_eps"], decay=0.9)  # PyTorch's momentum 0.1


class DenseLayer(chainer.Chain):
    def __init__(self, cin, p):
        super(DenseLayer, self).__init__()
        width = p["bn_size"] * p["growth_rate"]
        with self.init_scope():
            self.norm1 = _bn(cin, p)
            self.conv1 = _conv(cin, width, 1)
            self.norm2 = _bn(width, p)
            self.conv2 = _conv(width, p["growth_rate"], 3, pad=1)

    def __call__(self, x):
        h = self.conv1(F.relu(self.norm1(x)))
        h = self.conv2(F.relu(self.norm2(h)))
        return F.concat((x, h), axis=1)


class Transition(chainer.Chain):
    def __init__(self, cin, cout, p):
        super(Transition, self).__init__()
        with self.init_scope():
            self.norm = _bn(cin, p)
            self.conv = _conv(cin, cout, 1)

    def __call__(self, x):
        return F.average_pooling_2d(self.conv(F.relu(self.norm(x))), 2, stride=2)


class DenseNet121(chainer.Chain):
    def __init__(self, p):
        super(DenseNet121, self).__init__()
        init, channels = p["num_init_features"], p["num_init_features"]
        layers = []
        for i, n in enumerate(p["block_config"]):
            for _ in range(n):
                layers.append(DenseLayer(channels, p))
                channels += p["growth_rate"]
            if i != len(p["block_config"]) - 1:
                out = int(channels * p["compression"])
                layers.append(Transition(channels, out, p))
                channels = out
        with self.init_scope():
            self.conv0 = _conv(p["channels"], init, 7, stride=2, pad=3)
            self.norm0 = _bn(init, p)
            self.layers = chainer.ChainList(*layers)
            self.norm5 = _bn(channels, p)
            self.classifier = L.Linear(channels, p["n_classes"])

    def __call__(self, x):
        # batch-norm on batch statistics while chainer.config.train (its default), else on
        # the running ones
        h = F.relu(self.norm0(self.conv0(x)))
        h = F.max_pooling_2d(h, 3, stride=2, pad=1, cover_all=False)
        for layer in self.layers:
            h = layer(h)
        h = F.relu(self.norm5(h))
        return self.classifier(F.mean(h, axis=(2, 3)))  # logits


def start_devices(p, rank):
    n = p["devices"]
    # as 2017's Chainer_MultiGPU (cell 3): no argument type checks, and on a GPU a 512 MB
    # cuDNN workspace (autotune too: frameworks/chainer.py init)
    chainer.global_config.type_check = False
    if fw.DEVICE["gpu"]:
        chainer.backends.cuda.set_max_workspace_size(512 * 1024 * 1024)
        if fw.gpu_count() < n:
            raise RuntimeError("%d GPUs asked for, CuPy sees %d" % (n, fw.gpu_count()))
        devices = list(range(n))
    else:
        devices = [-1] * n  # ParallelUpdater's device ids: negative for the CPU
    return {"devices": devices,
            "backend": "chainer ParallelUpdater" if n > 1 else "one device"}


def _device(device_id):
    """A device id as Chainer's device object (@numpy for the CPU, @cupy:N for GPU N)."""
    return chainer.get_device("@numpy" if device_id < 0 else "@cupy:%d" % device_id)


def build_model(p, dist):
    net = DenseNet121(p)
    if len(dist["devices"]) == 1:
        net.to_device(_device(dist["devices"][0]))  # ParallelUpdater places its copies itself
    return net


def count_parameters(model):
    return sum(w.data.size for w in model.params())


class _Feed(chainer.dataset.Iterator):
    """The ParallelUpdater's iterator: hands it the batch train_step was given."""
    batch = None
    epoch, is_new_epoch, epoch_detail = 0, False, 0.0

    def __next__(self):
        return self.batch
    next = __next__


def build_trainer(model, p, dist):
    classifier = L.Classifier(model, lossfun=F.sigmoid_cross_entropy)  # as 2017
    classifier.compute_accuracy = False
    optimizer = optimizers.Adam(alpha=p["global_lr"], beta1=p["beta1"], beta2=p["beta2"],
                                eps=p["eps"])
    optimizer.setup(classifier)
    state = {"model": model, "classifier": classifier, "optimizer": optimizer, "updater": None,
             "device": dist["devices"][0]}
    devices = dist["devices"]
    if len(devices) > 1:
        state["feed"] = _Feed()
        names = ["main"] + ["replica%d" % i for i in range(1, len(devices))]
        state["updater"] = chainer.training.updaters.ParallelUpdater(
            state["feed"], optimizer, devices=dict(zip(names, devices)))
    return state


class XrayImages(chainer.dataset.DatasetMixin):
    """(PNG file, labels) records -> (normalised CHW float32 image, labels)."""

    def __init__(self, paths, labels, p, train, seed, resize):
        self.paths, self.labels = list(paths), np.asarray(labels, np.float32)
        self.size, self.h, self.w, self.train = p["resize"], p["height"], p["width"], train
        self.resize = resize  # None: prepared copies, already p["resize"] square
        self.mean = (np.array(p["mean"], np.float32) * 255.0)[:, None, None]
        self.sd = (np.array(p["sd"], np.float32) * 255.0)[:, None, None]
        self.seed, self.rng, self.pid = seed, None, None

    def __len__(self):
        return len(self.paths)

    def get_example(self, i):
        from PIL import Image
        with Image.open(self.paths[i]) as im:
            im = im.convert("RGB")  # ChestX-ray14 PNGs are 8-bit grey (a few RGBA)
            if self.train:  # (bilinear resize to 264,) random 224 crop, random flip
                if self.pid != os.getpid():  # a generator of its own in each worker process
                    self.pid = os.getpid()
                    self.rng = np.random.RandomState((self.seed * 1000003 + self.pid) % 2 ** 32)
                if self.resize:
                    im = im.resize((self.size, self.size), Image.BILINEAR)
                top = self.rng.randint(0, self.size - self.h + 1)
                left = self.rng.randint(0, self.size - self.w + 1)
                im = im.crop((left, top, left + self.w, top + self.h))
                if self.rng.rand() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
            else:  # evaluation: resized to 224, no augmentation
                im = im.resize((self.w, self.h), Image.BILINEAR)
            x = np.asarray(im, dtype=np.float32).transpose(2, 0, 1)  # HWC -> CHW
        return (x - self.mean) / self.sd, self.labels[i]


class Synthetic(chainer.dataset.DatasetMixin):
    """Synthetic mode: the images stay in RAM (2017's RandomData); image i is pool row
    i % pool."""

    def __init__(self, split):
        self.split = split

    def __len__(self):
        return self.split["size"]

    def get_example(self, i):
        row = chestxray.synthetic_rows(self.split, i, 1)[0]
        return self.split["x"][row], self.split["labels"][row]


class _Epochs(object):
    """A Chainer iterator as the runner iterates it: a new one per pass (repeat=False), complete
    batches only for training; MultiprocessIterator with worker processes for the real data (as
    2017), SerialIterator for the synthetic arrays (in RAM, nothing to decode)."""

    def __init__(self, dataset, batch, train, workers):
        self.dataset, self.batch, self.train, self.workers = dataset, batch, train, workers

    def __iter__(self):
        if self.workers:
            it = chainer.iterators.MultiprocessIterator(
                self.dataset, self.batch, repeat=False, shuffle=self.train,
                n_processes=self.workers, n_prefetch=10)  # 2017's n_prefetch
        else:
            it = chainer.iterators.SerialIterator(self.dataset, self.batch, repeat=False,
                                                  shuffle=self.train)
        try:
            for examples in it:
                if self.train and len(examples) < self.batch:
                    break  # complete batches only
                yield chainer.dataset.concat_examples(examples)
        finally:
            it.finalize()


def make_loader(split, p, dist, train, seed):
    """One pass = one epoch of (images NCHW float32, labels (N, 14) float32) numpy batches:
    global batches for training (complete ones, shuffled), every image in order else."""
    batch = p["global_batch"] if train else p["batch_size"]
    if "x" in split:  # in RAM, in order
        return _Epochs(Synthetic(split), batch, False, 0)
    return _Epochs(XrayImages(split["paths"], split["labels"], p, train, seed,
                              chestxray.train_resize(split, p)), batch, train,
                   _loader_processes(p))


def _loader_processes(p):
    """2017's Chainer_MultiGPU: on one GPU a MultiprocessIterator of CPU_COUNT processes, on N
    GPUs one of 2 processes per GPU (here one iterator feeds every device: 2 x N processes);
    never more than the CPUs this process may use."""
    cpus = host_cpus.available()
    want = (cpus or 1) if p["devices"] == 1 else 2 * p["devices"]
    return max(1, min(want, cpus or 1))


def train_step(state, x, y):
    y = y.astype(np.int32)  # sigmoid_cross_entropy takes integer targets
    if state["updater"] is not None:
        state["feed"].batch = list(zip(x, y))  # split over the replicas by the updater
        state["updater"].update()
        return state["classifier"].loss  # the main replica's share
    device = _device(state["device"])
    xb = device.send(np.ascontiguousarray(x))  # host-to-device copy, inside the timed loop
    yb = device.send(y)
    loss = state["classifier"](xb, yb)
    state["classifier"].cleargrads()
    loss.backward()
    state["optimizer"].update()
    return loss


def to_float(loss):
    return float(fw.to_host(loss.data))


def predict(state, x):
    device = _device(state["device"])
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        out = F.sigmoid(state["model"](device.send(np.ascontiguousarray(x))))
    return fw.to_host(out.data)  # probabilities, for the AUC


def sync(state):
    fw.synchronize()


def stop_devices(dist):
    pass  # one process: nothing to leave


# model equivalence (`dlbench check-models`, common/canonical.py): torchvision's names, the
# ChainList `layers` (dense layers and transitions, in order) named by
# canonical.densenet_unit_names; Chainer's layouts are the canonical ones (convolutions OIHW,
# Linear (out, in)); batch-norm gamma, beta, avg_mean, avg_var -> weight, bias, running_mean,
# running_var
_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "avg_mean"),
       ("running_var", "avg_var"))


def _pairs(model):
    """(canonical name, link, attribute) for every exported array."""
    pairs = []

    def bn(name, link):
        pairs.extend(("%s.%s" % (name, c), link, a) for c, a in _BN)

    pairs.append(("features.conv0.weight", model.conv0, "W"))
    bn("features.norm0", model.norm0)
    layers = list(model.layers)
    kinds = ["transition" if isinstance(l, Transition) else "layer" for l in layers]
    for name, layer in zip(canonical.densenet_unit_names(kinds), layers):
        if isinstance(layer, Transition):
            bn(name + ".norm", layer.norm)
            pairs.append((name + ".conv.weight", layer.conv, "W"))
        else:
            bn(name + ".norm1", layer.norm1)
            pairs.append((name + ".conv1.weight", layer.conv1, "W"))
            bn(name + ".norm2", layer.norm2)
            pairs.append((name + ".conv2.weight", layer.conv2, "W"))
    bn("features.norm5", model.norm5)
    pairs += [("classifier.weight", model.classifier, "W"),
              ("classifier.bias", model.classifier, "b")]
    return pairs


def _array(link, attribute):
    value = getattr(link, attribute)
    # a Parameter's array, or a persistent array itself (avg_mean, avg_var)
    return value.data if isinstance(value, chainer.Variable) else value


def export_params(state):
    return dict((c, np.array(fw.to_host(_array(link, a)))) for c, link, a in
                _pairs(state["model"]))


def import_params(state, params):
    pairs = _pairs(state["model"])
    canonical.check_keys(params, [c for c, _, _ in pairs])
    for c, link, a in pairs:
        target = _array(link, a)
        target[...] = fw.to_device(canonical.checked(params[c], c, target.shape))


def outputs(state, x):
    """The test-mode logits (N, 14) as float32 numpy (batch-norm on its running statistics)."""
    device = _device(state["device"])
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        out = state["model"](device.send(np.ascontiguousarray(x)))
    return fw.to_host(out.data)
