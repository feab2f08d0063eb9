"""DenseNet-121 on ChestX-ray14 in JAX + Flax (NNX) + optax.

Flax had no 2017 notebook and has no model zoo, so DenseNet-121 is written out with
torchvision's structure (the PyTorch column's network; Huang et al. 2017, table 1): a 7x7/2
convolution, 3x3/2 max-pooling, dense blocks of 6, 12, 24 and 16 layers (each BN-ReLU-conv1x1
to 4 x 32 channels, BN-ReLU-conv3x3 to 32, concatenated: growth 32, bn_size 4), transitions
(BN-ReLU-conv1x1 halving the channels: compression 0.5, 2x2 average pooling), a last BN-ReLU,
global average pooling and a 14-way linear classifier. Bias-free convolutions, He-normal
weights as torchvision initialises them, batch-norm momentum 0.1 (Flax's 0.9) and eps 1e-5.
Binary cross-entropy with logits over the 14 outputs, Adam lr 1e-4. NHWC.

Training is one pure step compiled by jax.jit: (weights, batch-norm statistics, optimiser
state, batch) -> new ones. Several devices (--gpus N, or --workers N host devices on a CPU:
frameworks/flax.py sets XLA_FLAGS=--xla_force_host_platform_device_count before JAX starts): a
jax.sharding.Mesh over them, weights and optimiser state replicated, each global batch split
along its first axis; jit partitions the step and all-reduces the gradients (GSPMD).
Batch-norm statistics are then those of the global batch (a synchronised batch-norm), where
PyTorch's DDP keeps them per device.

Data: Grain (grain.DataLoader), the JAX ecosystem's data loader: a random-access source of
(path, labels) records, a RandomMapTransform that decodes the PNG with Pillow, resizes to 264,
crops 224 at random and flips (its NumPy generator seeded per record by Grain, so the epoch is
reproducible whatever the worker count), normalises, then grain.Batch; worker_count worker
processes. tf.data (what Flax's own ImageNet example uses) is not in this image, and Grain is
what the JAX ecosystem offers instead (it came out of the same team).
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from common import canonical, chestxray
from frameworks import flax as fw

EQUIVALENCE = {"family": "densenet121-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "network": "DenseNet-121 written out (torchvision structure)",
            "loader": "grain.DataLoader (worker processes), Pillow decode (+ resize: "
                      "originals only, see data.images), random crop + flip",
            "data_parallel": "jax.sharding.Mesh over the devices, jit (GSPMD), one process"}

# torchvision's densenet121 has 7,978,856 parameters with its 1000-way classifier (running
# statistics not counted); the 14-way one replaces 1024 x 1000 + 1000 by 1024 x 14 + 14.


def _conv(cin, cout, k, rngs, stride=1, padding=0):
    return nnx.Conv(cin, cout, (k, k), strides=stride, padding=[(padding, padding)] * 2,
                    use_bias=False, rngs=rngs,
                    kernel_init=nnx.initializers.variance_scaling(2.0, "fan_in", "normal"))


def _bn(features, p, rngs):
    # PyTorch's momentum 0.1 is Flax's 0.9 (the weight of the old running average)
    return nnx.BatchNorm(features, momentum=0.9, epsilon=p["bn_eps"], rngs=rngs)


class DenseLayer(nnx.Module):
    def __init__(self, cin, p, rngs):
        width = p["bn_size"] * p["growth_rate"]
        self.norm1 = _bn(cin, p, rngs)
        self.conv1 = _conv(cin, width, 1, rngs)
        self.norm2 = _bn(width, p, rngs)
        self.conv2 = _conv(width, p["growth_rate"], 3, rngs, padding=1)

    def __call__(self, x, train):
        h = self.conv1(nnx.relu(self.norm1(x, use_running_average=not train)))
        h = self.conv2(nnx.relu(self.norm2(h, use_running_average=not train)))
        return jnp.concatenate([x, h], axis=-1)


class Transition(nnx.Module):
    def __init__(self, cin, cout, p, rngs):
        self.norm = _bn(cin, p, rngs)
        self.conv = _conv(cin, cout, 1, rngs)

    def __call__(self, x, train):
        x = self.conv(nnx.relu(self.norm(x, use_running_average=not train)))
        return nnx.avg_pool(x, (2, 2), (2, 2))


class DenseNet121(nnx.Module):
    def __init__(self, p, rngs):
        channels = p["num_init_features"]
        self.conv0 = _conv(p["channels"], channels, 7, rngs, stride=2, padding=3)
        self.norm0 = _bn(channels, p, rngs)
        layers = []
        for i, n in enumerate(p["block_config"]):
            for _ in range(n):
                layers.append(DenseLayer(channels, p, rngs))
                channels += p["growth_rate"]
            if i != len(p["block_config"]) - 1:
                out = int(channels * p["compression"])
                layers.append(Transition(channels, out, p, rngs))
                channels = out
        self.layers = nnx.List(layers) if hasattr(nnx, "List") else layers
        self.norm5 = _bn(channels, p, rngs)
        self.classifier = nnx.Linear(channels, p["n_classes"], rngs=rngs)  # zero bias

    def __call__(self, x, train=False):
        x = nnx.relu(self.norm0(self.conv0(x), use_running_average=not train))
        x = nnx.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
        for layer in self.layers:
            x = layer(x, train)
        x = nnx.relu(self.norm5(x, use_running_average=not train))
        return self.classifier(jnp.mean(x, axis=(1, 2)))  # logits


def start_devices(p, rank):
    devices = fw.devices(p["devices"])
    dist = {"devices": devices, "replicated": None, "split": None,
            "backend": "jax.sharding.Mesh, jit (GSPMD)" if len(devices) > 1 else "one device"}
    if len(devices) > 1:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        mesh = Mesh(np.array(devices), ("data",))
        dist["replicated"] = NamedSharding(mesh, PartitionSpec())
        dist["split"] = NamedSharding(mesh, PartitionSpec("data"))
    return dist


def build_model(p, dist):
    return DenseNet121(p, nnx.Rngs(fw.DEVICE["seed"]))


def count_parameters(model):
    return sum(w.size for w in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))


def build_trainer(model, p, dist):
    graphdef, params, stats = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(p["global_lr"], b1=p["beta1"], b2=p["beta2"], eps=p["eps"])

    def loss_fn(params, stats, x, y):
        # new Variables in this trace (copy=True): batch-norm writes its running statistics
        net = nnx.merge(graphdef, params, stats, copy=True)
        logits = net(x, train=True)  # batch-norm on batch statistics, running ones updated
        loss = optax.sigmoid_binary_cross_entropy(logits, y).mean()
        return loss, nnx.state(net, nnx.Not(nnx.Param))

    def step(params, stats, opt_state, x, y):
        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), stats, opt_state, loss

    def logits(params, stats, x):
        return nnx.merge(graphdef, params, stats)(x, train=False)

    def probabilities(params, stats, x):
        return jax.nn.sigmoid(logits(params, stats, x))

    opt_state = tx.init(params)
    if dist["replicated"] is not None:
        params, stats, opt_state = jax.device_put((params, stats, opt_state),
                                                  dist["replicated"])
    # jax.jit compiles each pure function once (in the runner's warm-up step)
    return {"params": params, "stats": stats, "opt_state": opt_state, "split": dist["split"],
            "devices": len(dist["devices"]), "step": jax.jit(step),
            "probabilities": jax.jit(probabilities), "logits": jax.jit(logits)}


def make_loader(split, p, dist, train, seed):
    """One pass = one epoch of (images NHWC float32, labels (N, 14) float32) numpy batches:
    global batches for training (complete ones, shuffled), every image in order else."""
    batch = p["global_batch"] if train else p["batch_size"]
    if "x" in split:
        return chestxray.InMemoryBatches(split, batch, train)
    return _GrainEpochs(split, p, batch, train, seed)


class _Decode(object):
    """One record (PNG path, labels) -> (normalised float32 HWC image, labels); rng: the NumPy
    generator Grain hands a random map for this record."""

    def __init__(self, p, train, resize):
        self.size, self.h, self.w = p["resize"], p["height"], p["width"]
        self.resize = resize  # None: prepared copies, already p["resize"] square
        self.mean = np.array(p["mean"], np.float32) * 255.0
        self.sd = np.array(p["sd"], np.float32) * 255.0
        self.train = train

    def __call__(self, record, rng):
        from PIL import Image
        path, label = record
        with Image.open(path) as im:
            im = im.convert("RGB")  # ChestX-ray14 PNGs are 8-bit grey (a few RGBA)
            if self.train:  # (bilinear resize to 264,) random 224 crop, random flip
                if self.resize:
                    im = im.resize((self.size, self.size), Image.BILINEAR)
                top = int(rng.integers(0, self.size - self.h + 1))
                left = int(rng.integers(0, self.size - self.w + 1))
                im = im.crop((left, top, left + self.w, top + self.h))
                if rng.random() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
            else:  # evaluation: resized to 224, no augmentation
                im = im.resize((self.w, self.h), Image.BILINEAR)
            x = np.asarray(im, dtype=np.float32)
        return (x - self.mean) / self.sd, np.asarray(label, np.float32)


class _Records(object):
    """Grain's random-access data source: (path, labels) by index."""

    def __init__(self, paths, labels):
        self.paths, self.labels = list(paths), np.asarray(labels, np.float32)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.paths[i], self.labels[i]


class _GrainEpochs(object):
    """grain.DataLoader, one per epoch (its sampler's seed moves on: a new shuffle and new
    crops each epoch), p["loader_workers"] worker processes for training."""

    def __init__(self, split, p, batch, train, seed):
        self.records = _Records(split["paths"], split["labels"])
        self.decode = _Decode(p, train, chestxray.train_resize(split, p))
        self.batch, self.train, self.seed = batch, train, seed
        # evaluation decodes in this process: Grain's workers each batch their own share of the
        # records (worker w: records w, w + N, ...), which would reorder an unshuffled split
        self.workers, self.epoch = (p["loader_workers"] if train else 0), 0

    def __iter__(self):
        import grain.python as grain
        from absl import flags
        if not flags.FLAGS.is_parsed():  # Grain reads absl flags; run.py is no absl program
            flags.FLAGS.mark_as_parsed()
        decode = self.decode

        class Decode(grain.RandomMapTransform):
            def random_map(self, record, rng):
                return decode(record, rng)

        # Grain draws record i's generator from seed + i: epochs a million records apart
        seed = (self.seed * 7919 + self.epoch * 1000003) % 2 ** 31
        sampler = grain.IndexSampler(len(self.records), shard_options=grain.NoSharding(),
                                     shuffle=self.train, num_epochs=1, seed=seed)
        self.epoch += 1
        # the workers decode; the batches are made here, from the records in the sampler's
        # order: batched inside the workers, each worker's share would drop its own remainder
        # (6 workers could lose up to 6 x (batch - 1) images an epoch, not the one remainder)
        loader = grain.DataLoader(data_source=self.records, sampler=sampler,
                                  worker_count=self.workers, operations=[Decode()])
        xs, ys = [], []
        for x, y in loader:
            xs.append(x)
            ys.append(y)
            if len(xs) == self.batch:
                yield np.stack(xs), np.stack(ys)
                xs, ys = [], []
        if xs and not self.train:  # evaluation: every image; training: complete batches
            yield np.stack(xs), np.stack(ys)


def _tensor(state, array):
    array = np.ascontiguousarray(array)
    if state["split"] is not None:
        return jax.device_put(array, state["split"])  # each device gets its slice
    return jax.device_put(array)  # host-to-device copy


def train_step(state, x, y):
    state["params"], state["stats"], state["opt_state"], loss = state["step"](
        state["params"], state["stats"], state["opt_state"], _tensor(state, x),
        _tensor(state, y.astype(np.float32)))
    return loss  # a jax array: the step may still be running


def to_float(loss):
    return float(loss)


def predict(state, x):
    n, devices = len(x), state["devices"]
    if n % devices:  # a last, partial batch: padded to split evenly over the devices
        x = np.concatenate([x, np.repeat(x[-1:], devices - n % devices, axis=0)])
    out = state["probabilities"](state["params"], state["stats"], _tensor(state, x))
    return np.asarray(out)[:n]  # probabilities, for the AUC


def sync(state):
    jax.block_until_ready(state["params"])


def stop_devices(dist):
    pass  # one process: nothing to leave


# model equivalence (`dlbench check-models`, common/canonical.py): the module names are
# torchvision's but for the flat list of dense layers and transitions (fw.named_arrays drops
# `layers`: "3.norm1.scale" is the fourth unit's), named by canonical.densenet_unit_names;
# kernels HWIO and the classifier (in, out) here, OIHW and (out, in) there; batch-norm scale,
# bias, mean, var -> weight, bias, running_mean, running_var

_LEAF = {"kernel": "weight", "bias": "bias", "scale": "weight", "mean": "running_mean",
         "var": "running_var"}
_TOP = {"conv0": "features.conv0", "norm0": "features.norm0", "norm5": "features.norm5",
        "classifier": "classifier"}


def _names(state):
    """{Flax name: canonical name} of every array of the weights and the statistics."""
    names = list(fw.named_arrays(state["params"])) + list(fw.named_arrays(state["stats"]))
    units = sorted(set(int(n.split(".")[0]) for n in names if n.split(".")[0].isdigit()))
    kinds = ["transition" if any(n.startswith("%d.norm." % i) for n in names) else "layer"
             for i in units]
    unit_names = dict(zip(units, canonical.densenet_unit_names(kinds)))
    out = {}
    for n in names:
        parts = n.split(".")
        head = unit_names.get(int(parts[0])) if parts[0].isdigit() else _TOP.get(parts[0])
        if head is None or parts[-1] not in _LEAF:
            raise ValueError("no canonical name for Flax's %s" % n)
        out[n] = ".".join([head] + parts[1:-1] + [_LEAF[parts[-1]]])
    return out


def _to_canonical(value):
    if value.ndim == 4:
        return canonical.hwio_to_oihw(value)
    return np.ascontiguousarray(value.T) if value.ndim == 2 else value


def export_params(state):
    names = _names(state)
    out = {}
    for part in ("params", "stats"):
        for n, value in fw.named_arrays(state[part]).items():
            out[names[n]] = _to_canonical(value)
    return out


def import_params(state, params):
    names = _names(state)
    canonical.check_keys(params, list(names.values()))
    for part in ("params", "stats"):
        arrays = {}
        for n, value in fw.named_arrays(state[part]).items():
            new = np.asarray(params[names[n]], dtype=np.float32)
            if value.ndim == 4:
                new = canonical.oihw_to_hwio(new)
            elif value.ndim == 2:
                new = canonical.dense_to_io(new)
            arrays[n] = new
        state[part] = fw.with_arrays(state[part], arrays)


def outputs(state, x):
    """The eval-mode logits (N, 14) as float32 numpy (batch-norm on its running statistics)."""
    return np.asarray(state["logits"](state["params"], state["stats"], _tensor(state, x)))
