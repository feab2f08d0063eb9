"""DenseNet-121 on ChestX-ray14 in Keras 3, on the backend the variant names.

As 2017's Keras_TF_MultiGPU notebook (ilkarman/DeepLearningFrameworks): keras.applications'
DenseNet121(include_top=False, pooling='avg') with a 14-way Dense classifier on top, binary
cross-entropy over 14 sigmoid outputs, Adam(lr 1e-4, 0.9, 0.999). Random weights here (2017
started from the ImageNet weights, a download). Channels-last on every device: 2017 set
channels_first for Keras 2.1 on TensorFlow 1.4, but Keras 3's keras.applications.DenseNet121
refuses channels_first ("DenseNet does not support the `channels_first` image data format",
Keras 3.15.1), a reported deviation (the row's note).

Data: a tf.data pipeline (TensorFlow is in the image whatever the backend, and Keras 3 takes
tf.data on all three): read the PNG, tf.io.decode_png, resize to 224 (nearest neighbour), random
horizontal flip, ImageNet mean/sd, batched (2017's flow_from_directory(target_size=224) resized
the 264 copies as it loaded them, so its random crop to 224 cropped nothing); the map runs in
parallel (AUTOTUNE) on TensorFlow's own C++ thread pool, which decodes without the GIL: tf.data
has threads, not worker processes. 2017 used Keras 2.1's ImageDataGenerator.flow_from_directory
with 2 x CPU threads; Keras 3 dropped it, and a PyDataset with worker processes would need a
Python PNG decoder (keras.utils.load_img is Pillow, which the image does not have).

Several devices (--gpus N / --workers N): the JAX backend's keras.distribution.DataParallel
over N of the devices JAX sees (N host devices on a CPU: frameworks/keras3.py sets
XLA_FLAGS=--xla_force_host_platform_device_count before JAX starts); every weight is
replicated, each global batch split along its first axis, and XLA all-reduces the gradients.
Batch-norm statistics are then those of the global batch (XLA computes them across the
devices). 2017's Keras ran keras.utils.multi_gpu_model; the tensorflow and torch backends here
run one device (Keras 3's distribution API is the JAX backend's).
"""
import keras
import numpy as np

from common import canonical, chestxray
from frameworks import keras3 as fw

# keras.applications' DenseNet121 is torchvision's network but for its batch-norm eps, 1.001e-5
EQUIVALENCE = {"family": "densenet121-keras"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC",
            "network": "keras.applications.DenseNet121(include_top=False, pooling='avg') "
                       "+ Dense(14)",
            "loader": "tf.data: decode_png (+ bilinear resize to 264: originals only, see "
                      "data.images), nearest resize to 224 + random flip (2017's "
                      "flow_from_directory); parallel map (TensorFlow's threads)",
            "data_parallel": "keras.distribution.DataParallel (JAX backend), one process"}

# Trainable weights (2017's Keras "Trainable params"): keras.applications' DenseNet121 with its
# 1000-way top has 7,978,856 (plus 83,648 batch-norm moving statistics, not counted here, as
# torchvision's count leaves its running statistics out); the 14-way classifier replaces
# 1024 x 1000 + 1000 by 1024 x 14 + 14.


def start_devices(p, rank):
    devices = fw.devices(p["devices"])
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return {"devices": devices, "backend": ("keras.distribution.DataParallel"
                                            if len(devices) > 1 else "one device")}


def build_model(p, dist):
    # keras.applications' DenseNet121 is p's network: blocks 6/12/24/16, growth 32, bottleneck
    # 4 x 32, compression 0.5, batch-norm eps 1.001e-5 (Keras's own)
    base = keras.applications.DenseNet121(
        include_top=False, weights=None, pooling="avg",
        input_shape=(p["height"], p["width"], p["channels"]))
    # logits: the sigmoid lives in the loss (from_logits=True)
    out = keras.layers.Dense(p["n_classes"], name="classifier")(base.output)
    return keras.Model(base.input, out, name="densenet121")


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def build_trainer(model, p, dist):
    model.compile(optimizer=keras.optimizers.Adam(p["global_lr"], beta_1=p["beta1"],
                                                  beta_2=p["beta2"], epsilon=p["eps"]),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return {"model": model, "devices": len(dist["devices"])}


def make_loader(split, p, dist, train, seed):
    """One pass = one epoch of (images NHWC float32, labels (N, 14) float32) numpy batches:
    global batches for training (complete ones, shuffled), every image in order else."""
    batch = p["global_batch"] if train else p["batch_size"]
    if "x" in split:
        return chestxray.InMemoryBatches(split, batch, train)
    import tensorflow as tf
    resize, size = chestxray.train_resize(split, p), (p["height"], p["width"])
    mean = tf.constant(np.array(p["mean"], np.float32) * 255.0)
    sd = tf.constant(np.array(p["sd"], np.float32) * 255.0)

    def decode(path, label):
        # 2017's Keras_TF_MultiGPU: flow_from_directory(target_size=(224, 224)) loaded every
        # image resized to 224 (load_img's default, nearest neighbour), so its random 224 crop
        # of a 224 image did nothing: resize + random flip for training, resize for evaluation
        image = tf.io.decode_png(tf.io.read_file(path), channels=3)  # grey, RGBA -> RGB
        if train and resize:  # originals: the bilinear 264 copy first (None: prepared copies)
            image = tf.image.resize(image, (resize, resize))
        image = tf.image.resize(image, size, method="nearest")
        if train:
            image = tf.image.random_flip_left_right(image, seed=seed)
        return (tf.cast(image, tf.float32) - mean) / sd, label

    ds = tf.data.Dataset.from_tensor_slices((list(split["paths"]),
                                             np.asarray(split["labels"], np.float32)))
    if train:
        ds = ds.shuffle(len(split["paths"]), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(decode, num_parallel_calls=p["loader_workers"], deterministic=not train)
    ds = ds.batch(batch, drop_remainder=train).prefetch(tf.data.AUTOTUNE)
    return _Epochs(ds)


class _Epochs(object):
    """A tf.data pipeline as the runner iterates it: one pass = one epoch, numpy out."""

    def __init__(self, ds):
        self.ds = ds

    def __iter__(self):
        return self.ds.as_numpy_iterator()


def train_step(state, x, y):
    # the compiled step (jax.jit / tf.function; eager on torch), compiled in the warm-up step
    return state["model"].train_on_batch(x, y)


def to_float(loss):
    return float(np.asarray(loss).ravel()[0])


def predict(state, x):
    n, devices = len(x), state["devices"]
    if n % devices:  # a last, partial batch: padded to split evenly over the devices
        x = np.concatenate([x, np.repeat(x[-1:], devices - n % devices, axis=0)])
    logits = np.asarray(state["model"].predict_on_batch(x), dtype=np.float64)[:n]
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)  # probabilities, for the AUC


def sync(state):
    pass  # train_on_batch and predict_on_batch return host values: nothing is left queued


def stop_devices(dist):
    if len(dist["devices"]) > 1:
        keras.distribution.set_distribution(None)


# model equivalence (`dlbench check-models`, common/canonical.py): keras.applications' layer
# names to torchvision's: conv1_conv / conv1_bn -> features.conv0 / norm0; conv{b+1}_block{l}_
# {0_bn, 1_conv, 1_bn, 2_conv} -> features.denseblock{b}.denselayer{l}.{norm1, conv1, norm2,
# conv2}; pool{t+1}_{bn, conv} -> features.transition{t}.{norm, conv}; bn -> features.norm5;
# classifier. Bias-free convolutions; kernels HWIO here, OIHW there; Dense (in, out) here

_BN = ("weight", "bias", "running_mean", "running_var")  # Keras: gamma, beta, moving mean, var
_LAYER_PART = {("0", "bn"): "norm1", ("1", "conv"): "conv1", ("1", "bn"): "norm2",
               ("2", "conv"): "conv2"}


def _canonical_layer(name):
    """The canonical name of a layer of keras.applications' DenseNet121 (+ classifier), or
    None."""
    name = name.replace("/", "_")  # Keras 2 spelled them conv1/conv
    top = {"conv1_conv": "features.conv0", "conv1_bn": "features.norm0",
           "bn": "features.norm5", "classifier": "classifier"}
    if name in top:
        return top[name]
    parts = name.split("_")
    if len(parts) == 2 and parts[0].startswith("pool") and parts[1] in ("bn", "conv"):
        return "features.transition%d.%s" % (int(parts[0][4:]) - 1,
                                             "norm" if parts[1] == "bn" else "conv")
    if len(parts) == 4 and parts[0].startswith("conv") and parts[1].startswith("block"):
        part = _LAYER_PART.get((parts[2], parts[3]))
        if part:
            return "features.denseblock%d.denselayer%d.%s" % (int(parts[0][4:]) - 1,
                                                              int(parts[1][5:]), part)
    return None


def _layers(model):
    """(canonical name, layer) of every layer holding weights; one without a canonical name is
    an error (nothing is left out of the check)."""
    found = []
    for layer in model.layers:
        if not layer.weights:
            continue
        name = _canonical_layer(layer.name)
        if name is None:
            raise ValueError("no canonical name for Keras layer %s" % layer.name)
        found.append((name, layer))
    return found


def export_params(state):
    out = {}
    for name, layer in _layers(state["model"]):
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.Conv2D):
            (kernel,) = weights
            out[name + ".weight"] = canonical.hwio_to_oihw(kernel)
        elif isinstance(layer, keras.layers.Dense):
            out[name + ".weight"] = np.ascontiguousarray(weights[0].T)
            out[name + ".bias"] = weights[1]
        else:
            out.update(("%s.%s" % (name, key), w) for key, w in zip(_BN, weights))
    return out


def import_params(state, params):
    found = _layers(state["model"])
    canonical.check_keys(params, list(export_params(state)))
    for name, layer in found:
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([canonical.oihw_to_hwio(params[name + ".weight"])])
        elif isinstance(layer, keras.layers.Dense):
            layer.set_weights([canonical.dense_to_io(params[name + ".weight"]),
                               params[name + ".bias"]])
        else:
            layer.set_weights([params["%s.%s" % (name, key)] for key in _BN])


def outputs(state, x):
    """The inference-mode logits (N, 14) as float32 numpy (batch-norm on its moving
    statistics)."""
    return np.asarray(state["model"].predict_on_batch(x), dtype=np.float32)
