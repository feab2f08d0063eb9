"""DenseNet-121 on ChestX-ray14 in TensorFlow 2, one or several devices.

2017's notebooks/Tensorflow_MultiGPU.ipynb (TensorFlow 1.x) fed an Estimator from tf.data
(from_tensor_slices over the file names, shuffle, map_and_batch with the decode and the
augmentation, prefetch), built a slim-style DenseNet-121 per GPU tower and averaged the towers'
gradients by hand, Adam (lr 1e-4 per GPU), sigmoid cross-entropy over 14 outputs. Here, in
TensorFlow 2's own way, without Keras (its column is keras3):
  * tf.data: from_tensor_slices, shuffle each epoch, map with parallel calls (read_file,
    decode_png to RGB, bilinear resize to 264, random_crop 224, random_flip_left_right, ImageNet
    normalisation), batch, prefetch; experimental_distribute_dataset splits each global batch
    between the replicas;
  * tf.distribute.MirroredStrategy over N GPUs, or over N logical CPU devices
    (tf.config.set_logical_device_configuration) on the CPU; the replicas all-reduce their
    gradients (mean) and each applies the same Adam update to its copy of the weights;
  * DenseNet-121 written out (tf.Module, tf.nn ops), torchvision's layout and init (the PyTorch
    column's network: growth 32, blocks 6/12/24/16, bottleneck 4*growth, compression 0.5),
    random weights (2017 warm-started from an ImageNet checkpoint). Channels-first (NCHW) on
    GPUs, as 2017's slim arg_scope (data_format="NCHW"); NHWC on the CPU, where TensorFlow has
    no NCHW max-pool gradient.
Synthetic data (2017: numpy_input_fn over arrays in RAM, no augmentation): numpy batches from
RAM, split between the replicas by the step.
"""
import numpy as np
import tensorflow as tf

from common import canonical, chestxray
from frameworks import tensorflow as fw

EQUIVALENCE = {"family": "densenet121-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "layout_gpu": "NCHW",  # fw.DEVICE["layout"]: the one in effect
            "network": "DenseNet-121 written out (torchvision's layout), tf.Module, random init "
                       "(2017: ImageNet checkpoint)",
            "loader": "tf.data: decode_png (+ bilinear resize: originals only, see "
                      "data.images), random_crop + random_flip, parallel map, prefetch",
            "data_parallel": "tf.distribute.MirroredStrategy (logical CPU devices on the CPU)"}


# the channel axis and the spatial axes of a batch in each layout
_AXES = {"NHWC": (3, (1, 2)), "NCHW": (1, (2, 3))}


def _pad(x, n, layout, value=0.0):
    """n rows and columns of `value` on each side of the image (torch's explicit padding)."""
    pads = [[0, 0]] * 4
    for axis in _AXES[layout][1]:
        pads[axis] = [n, n]
    return tf.pad(x, pads, constant_values=value)


def _he_normal(shape):
    fan_in = int(np.prod(shape[:-1]))  # kaiming_normal_, torchvision's densenet init
    return tf.random.normal(shape, stddev=np.sqrt(2.0 / fan_in))


class BatchNorm(tf.Module):
    """gamma, beta trainable; moving statistics (momentum 0.1, as torch) updated in training."""

    def __init__(self, channels, eps, layout):
        super(BatchNorm, self).__init__()
        self.layout = layout
        self.gamma = tf.Variable(tf.ones([channels]))
        self.beta = tf.Variable(tf.zeros([channels]))
        self.mean = tf.Variable(tf.zeros([channels]), trainable=False)
        self.var = tf.Variable(tf.ones([channels]), trainable=False)
        self.eps = eps

    def __call__(self, x, training):
        if training:
            y, mean, var = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta,
                                                            epsilon=self.eps, is_training=True,
                                                            data_format=self.layout)
            # each replica updates its own copy (its own batch), as DDP keeps rank 0's
            for stat, batch in ((self.mean, mean), (self.var, var)):
                tf.raw_ops.AssignVariableOp(resource=stat.handle,
                                            value=0.9 * tf.convert_to_tensor(stat) + 0.1 * batch)
            return y
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta, mean=self.mean,
                                                   variance=self.var, epsilon=self.eps,
                                                   is_training=False, data_format=self.layout)
        return y


class Conv(tf.Module):
    def __init__(self, cin, cout, k, layout):
        super(Conv, self).__init__()
        self.w = tf.Variable(_he_normal([k, k, cin, cout]))  # HWIO in both layouts
        self.layout = layout

    def __call__(self, x, stride=1, padding="SAME"):
        return tf.nn.conv2d(x, self.w, stride, padding, data_format=self.layout)


class DenseLayer(tf.Module):
    def __init__(self, channels, p, layout):
        super(DenseLayer, self).__init__()
        width = p["bn_size"] * p["growth_rate"]
        self.norm1 = BatchNorm(channels, p["bn_eps"], layout)
        self.conv1 = Conv(channels, width, 1, layout)
        self.norm2 = BatchNorm(width, p["bn_eps"], layout)
        self.conv2 = Conv(width, p["growth_rate"], 3, layout)
        self.channel_axis = _AXES[layout][0]

    def __call__(self, x, training):
        out = self.conv1(tf.nn.relu(self.norm1(x, training)))
        out = self.conv2(tf.nn.relu(self.norm2(out, training)))
        return tf.concat([x, out], axis=self.channel_axis)


class Transition(tf.Module):
    def __init__(self, channels, out, p, layout):
        super(Transition, self).__init__()
        self.norm = BatchNorm(channels, p["bn_eps"], layout)
        self.conv = Conv(channels, out, 1, layout)
        self.layout = layout

    def __call__(self, x, training):
        x = self.conv(tf.nn.relu(self.norm(x, training)))
        return tf.nn.avg_pool2d(x, 2, 2, "VALID", data_format=self.layout)


class DenseNet121(tf.Module):
    def __init__(self, p, layout):
        super(DenseNet121, self).__init__()
        self.layout = layout
        channels = p["num_init_features"]
        self.conv0 = Conv(p["channels"], channels, 7, layout)
        self.norm0 = BatchNorm(channels, p["bn_eps"], layout)
        self.blocks, self.transitions = [], []
        for i, n in enumerate(p["block_config"]):
            block = []
            for _ in range(n):
                block.append(DenseLayer(channels, p, layout))
                channels += p["growth_rate"]
            self.blocks.append(block)
            if i != len(p["block_config"]) - 1:
                out = int(channels * p["compression"])
                self.transitions.append(Transition(channels, out, p, layout))
                channels = out
        self.norm5 = BatchNorm(channels, p["bn_eps"], layout)
        bound = 1.0 / np.sqrt(channels)  # torch's Linear weight init, zero bias (torchvision)
        self.fc_w = tf.Variable(tf.random.uniform([channels, p["n_classes"]], -bound, bound))
        self.fc_b = tf.Variable(tf.zeros([p["n_classes"]]))

    def __call__(self, x, training):
        # torch's explicit paddings (3 for the 7x7/2 convolution, 1 for the 3x3/2 max-pool)
        x = _pad(x, 3, self.layout)
        x = tf.nn.relu(self.norm0(self.conv0(x, 2, "VALID"), training))
        x = _pad(x, 1, self.layout, -np.inf)
        x = tf.nn.max_pool2d(x, 3, 2, "VALID", data_format=self.layout)
        for i, block in enumerate(self.blocks):
            for layer in block:
                x = layer(x, training)
            if i < len(self.transitions):
                x = self.transitions[i](x, training)
        x = tf.nn.relu(self.norm5(x, training))
        x = tf.reduce_mean(x, axis=list(_AXES[self.layout][1]))
        return tf.matmul(x, self.fc_w) + self.fc_b  # logits: the sigmoid lives in the loss


def start_devices(p, rank):
    n = p["devices"]
    kind = "GPU" if fw.DEVICE["gpu"] else "CPU"
    if kind == "CPU" and n > 1:  # N replicas on the one CPU: N logical devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    devices = [d.name for d in tf.config.list_logical_devices(kind)][:n]
    if len(devices) < n:
        raise RuntimeError("%d %s replicas asked for, TensorFlow sees %d %s device(s)"
                           % (n, kind, len(devices), kind))
    if n == 1:
        strategy = tf.distribute.OneDeviceStrategy(devices[0])
    else:
        strategy = tf.distribute.MirroredStrategy(
            devices, cross_device_ops=None if kind == "GPU" else
            tf.distribute.ReductionToOneDevice())
    return {"strategy": strategy, "rank": rank, "world": n, "devices": devices,
            "backend": type(strategy).__name__}


def build_model(p, dist):
    with dist["strategy"].scope():
        return DenseNet121(p, fw.DEVICE["layout"])


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_variables)


def build_trainer(model, p, dist):
    strategy = dist["strategy"]
    weights = model.trainable_variables
    with strategy.scope():
        moments = [(tf.Variable(tf.zeros_like(w), trainable=False),
                    tf.Variable(tf.zeros_like(w), trainable=False)) for w in weights]
        t = tf.Variable(0.0, trainable=False)
    lr, b1, b2, eps = [tf.constant(v, tf.float32) for v in
                       (p["global_lr"], p["beta1"], p["beta2"], p["eps"])]

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                labels=y, logits=model(x, training=True)))
        grads = tape.gradient(loss, weights)
        grads = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.MEAN, grads)
        step = tf.convert_to_tensor(t) + 1.0
        tf.raw_ops.AssignVariableOp(resource=t.handle, value=step)
        for w, (m, v), g in zip(weights, moments, grads):
            # Adam, TensorFlow's fused kernel (2017: tf.train.AdamOptimizer), on this replica's
            # copy: every replica applies the same all-reduced gradient
            tf.raw_ops.ResourceApplyAdam(var=w.handle, m=m.handle, v=v.handle,
                                         beta1_power=tf.pow(b1, step),
                                         beta2_power=tf.pow(b2, step), lr=lr, beta1=b1,
                                         beta2=b2, epsilon=eps, grad=g)
        return loss

    def step(x, y):
        losses = strategy.run(replica_step, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)

    shape = ([None, p["channels"], p["height"], p["width"]] if model.layout == "NCHW"
             else [None, p["height"], p["width"], p["channels"]])

    def probabilities(x):
        return tf.sigmoid(model(x, training=False))

    return {"model": model, "moments": moments, "t": t, "strategy": strategy,
            "batch": p["batch_size"], "step": tf.function(step),
            "probabilities": tf.function(probabilities,
                                         input_signature=[tf.TensorSpec(shape, tf.float32)])}


def _decoder(p, train, seed, resize):
    mean = tf.constant(p["mean"], tf.float32) * 255.0
    sd = tf.constant(p["sd"], tf.float32) * 255.0
    crop = [p["height"], p["width"], p["channels"]]

    def decode(path, label):
        image = tf.io.decode_png(tf.io.read_file(path), channels=3)  # grey/RGBA -> RGB
        if train:  # (bilinear resize to 264,) random 224 crop, random flip
            if resize:  # None: prepared copies, already 264 square
                image = tf.image.resize(image, [resize, resize], method="bilinear")
            image = tf.image.random_crop(image, crop, seed=seed)
            image = tf.image.random_flip_left_right(image, seed=seed)
        else:  # evaluation: resized to 224, no augmentation
            image = tf.image.resize(image, crop[:2], method="bilinear")
        image = (tf.cast(image, tf.float32) - mean) / sd
        if fw.DEVICE["layout"] == "NCHW":  # decoded HWC; transposed in the loader's workers
            image = tf.transpose(image, [2, 0, 1])
        return image, label

    return decode


def make_loader(split, p, dist, train, seed):
    if "x" in split:  # synthetic, in RAM: global batches; train_step splits them
        return chestxray.InMemoryBatches(split, p["global_batch"] if train else p["batch_size"],
                                         train)
    data = tf.data.Dataset.from_tensor_slices((list(split["paths"]), split["labels"]))
    if train:
        data = data.shuffle(len(split["paths"]), seed=seed, reshuffle_each_iteration=True)
    data = data.map(_decoder(p, train, seed, chestxray.train_resize(split, p)),
                    num_parallel_calls=p["loader_workers"])
    # prefetch 10 batches, as 2017's Tensorflow_MultiGPU XrayData (buffer=10)
    if not train:
        return data.batch(p["batch_size"]).prefetch(10)
    data = data.batch(p["global_batch"], drop_remainder=True).prefetch(10)
    return dist["strategy"].experimental_distribute_dataset(data)


def _split_between_replicas(state, array):
    """A numpy global batch (synthetic data) as one slice per replica."""
    per = state["batch"]
    return state["strategy"].experimental_distribute_values_from_function(
        lambda ctx: tf.constant(array[ctx.replica_id_in_sync_group * per:
                                      (ctx.replica_id_in_sync_group + 1) * per]))


def train_step(state, x, y):
    if isinstance(x, np.ndarray):
        x, y = _split_between_replicas(state, x), _split_between_replicas(state, y)
    return state["step"](x, y)


def to_float(loss):
    return float(loss.numpy())


def predict(state, x):
    return state["probabilities"](tf.convert_to_tensor(x)).numpy()


def sync(state):
    if fw.DEVICE["gpu"]:
        tf.test.experimental.sync_devices()


def stop_devices(dist):
    return None


# model equivalence (`dlbench check-models`, common/canonical.py): torchvision's names for the
# tf.Module's attributes (blocks[b][l] -> denseblock{b+1}.denselayer{l+1}, transitions[t] ->
# transition{t+1}); kernels HWIO here, OIHW there; the classifier (in, out) here, (out, in) there

_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "mean"), ("running_var", "var"))


def _variables(model):
    """(canonical name, tf.Variable, kind) for every array: kind "conv", "dense" or "other"."""
    found = []

    def conv(name, layer):
        found.append((name + ".weight", layer.w, "conv"))

    def bn(name, layer):
        found.extend(("%s.%s" % (name, key), getattr(layer, attr), "other")
                     for key, attr in _BN)

    conv("features.conv0", model.conv0)
    bn("features.norm0", model.norm0)
    for b, block in enumerate(model.blocks):
        for l, layer in enumerate(block):
            name = "features.denseblock%d.denselayer%d" % (b + 1, l + 1)
            bn(name + ".norm1", layer.norm1)
            conv(name + ".conv1", layer.conv1)
            bn(name + ".norm2", layer.norm2)
            conv(name + ".conv2", layer.conv2)
        if b < len(model.transitions):
            name = "features.transition%d" % (b + 1)
            bn(name + ".norm", model.transitions[b].norm)
            conv(name + ".conv", model.transitions[b].conv)
    bn("features.norm5", model.norm5)
    found.append(("classifier.weight", model.fc_w, "dense"))
    found.append(("classifier.bias", model.fc_b, "other"))
    return found


def export_params(state):
    out = {}
    for name, var, kind in _variables(state["model"]):
        value = var.numpy()
        if kind == "conv":
            value = canonical.hwio_to_oihw(value)
        elif kind == "dense":
            value = np.ascontiguousarray(value.T)
        out[name] = value
    return out


def import_params(state, params):
    found = _variables(state["model"])
    canonical.check_keys(params, [name for name, _, _ in found])
    for name, var, kind in found:
        value = np.asarray(params[name], dtype=np.float32)
        if kind == "conv":
            value = canonical.oihw_to_hwio(value)
        elif kind == "dense":
            value = canonical.dense_to_io(value)
        var.assign(canonical.checked(value, name, var.shape))


def outputs(state, x):
    """The eval-mode logits (N, 14) as float32 numpy (batch-norm on its moving statistics)."""
    return state["model"](tf.convert_to_tensor(x), training=False).numpy()
