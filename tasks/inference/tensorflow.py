"""Inference (ResNet-50 feature extraction) in TensorFlow 2.

The network is TF-slim's resnet_v1_50, as 2017 used it: ilkarman/DeepLearningFrameworks,
notebooks/Tensorflow_Inference.ipynb (TensorFlow 1.4) builds
`resnet_v1.resnet_v1_50(input_tensor, is_training=False)` from tensorflow.contrib.slim.nets under
`resnet_arg_scope()`, with num_classes left at None ("we return the features before the logit
layer": global average pooling, 2048 features), and feeds channels-last random images, batch 32.
TF-slim left TensorFlow with contrib in 2.0, so its structure is written out here in plain
TensorFlow (tf.Module variables, tf.nn ops, one tf.function forward pass; no Keras: its column
is keras3). From tensorflow/contrib/slim/python/slim/nets/resnet_v1.py and resnet_utils.py:

* root: conv2d_same 7x7/2 (explicit 3+3 zero padding, then VALID), max-pool 3x3/2 'SAME';
* blocks of 3, 4, 6, 3 bottleneck units (widths 64..512, output 4x); a block's stride sits in its
  LAST unit (blocks 1-3: 2, block 4: 1), on the 3x3 convolution (conv2d_same);
* the shortcut is a 1x1 projection where the depth changes (each block's first unit, stride 1)
  and otherwise the input, subsampled by a 1x1 max-pool where the unit strides;
* every convolution is slim.conv2d with normalizer_fn=batch_norm: no bias; batch-norm with
  scale (gamma) and centre (beta), epsilon 1e-5, on its moving statistics (is_training=False);
* weights: slim.variance_scaling_initializer() (factor 2, fan-in, truncated normal).

Random weights: 2017 restored the resnet_v1_50_2016_08_28 checkpoint, but times random images,
and a benchmark never downloads; `--weights FILE` loads a local file. NHWC, TensorFlow's CPU
layout.
"""
import numpy as np
import tensorflow as tf

from common import canonical
from frameworks import tensorflow as fw

EQUIVALENCE = {"family": "resnet50-tfslim"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "network": "TF-slim resnet_v1_50 (num_classes=None), plain TF"}

# Every weight the network holds, batch-norm moving statistics included (the keras3 adapter's
# count): 53 bias-free convolutions (23,454,912) and 53 batch-norms of 4 x 26,560 (106,240).
# slim's resnet_v1_50 without logits has the same variables (its trainable ones: 23,508,032,
# the torchvision count: where the stride sits changes no weight shape).
PARAMETERS = 23561152


def _same_padding(k):
    # resnet_utils.conv2d_same: k - 1 zeros in all, (k - 1) // 2 before, then a VALID conv (for
    # stride 1 and odd k the same as slim's 'SAME')
    before = (k - 1) // 2
    after = k - 1 - before
    return [[0, 0], [before, after], [before, after], [0, 0]]


class ConvBN(tf.Module):
    """slim.conv2d under resnet_arg_scope: a bias-free convolution, then batch-norm."""

    def __init__(self, cin, cout, k, stride=1):
        super(ConvBN, self).__init__()
        # variance_scaling_initializer(): truncated normal, stddev sqrt(1.3 * 2 / fan_in)
        std = np.sqrt(1.3 * 2.0 / (k * k * cin))
        self.kernel = tf.Variable(tf.random.truncated_normal([k, k, cin, cout], stddev=std))
        self.gamma = tf.Variable(tf.ones([cout]))
        self.beta = tf.Variable(tf.zeros([cout]))
        self.mean = tf.Variable(tf.zeros([cout]), trainable=False)
        self.var = tf.Variable(tf.ones([cout]), trainable=False)
        self.stride = stride
        self.padding = _same_padding(k)

    def __call__(self, x):
        x = tf.nn.conv2d(x, self.kernel, self.stride, self.padding)
        return tf.nn.batch_normalization(x, self.mean, self.var, self.beta, self.gamma, 1e-5)


class Bottleneck(tf.Module):
    """resnet_v1.bottleneck: 1x1, 3x3 (the unit's stride), 1x1 (4x wider), add, relu."""

    def __init__(self, depth_in, depth_bottleneck, stride):
        super(Bottleneck, self).__init__()
        depth = depth_bottleneck * 4
        self.stride = stride
        self.shortcut = None  # depth unchanged: the input, subsampled
        if depth != depth_in:
            self.shortcut = ConvBN(depth_in, depth, 1, stride=stride)
        self.conv1 = ConvBN(depth_in, depth_bottleneck, 1)
        self.conv2 = ConvBN(depth_bottleneck, depth_bottleneck, 3, stride=stride)
        self.conv3 = ConvBN(depth_bottleneck, depth, 1)

    def __call__(self, x):
        if self.shortcut is not None:
            shortcut = self.shortcut(x)
        elif self.stride > 1:  # resnet_utils.subsample: a 1x1 max-pool with the stride
            shortcut = tf.nn.max_pool2d(x, 1, self.stride, "SAME")
        else:
            shortcut = x
        out = tf.nn.relu(self.conv1(x))
        out = tf.nn.relu(self.conv2(out))
        out = self.conv3(out)
        return tf.nn.relu(out + shortcut)


class ResNet50Features(tf.Module):
    def __init__(self, p):
        super(ResNet50Features, self).__init__()
        self.conv1 = ConvBN(p["channels"], 64, 7, stride=2)
        depth_in, self.units = 64, []
        # resnet_v1_50: (base depth, units, stride of the block's last unit)
        for base, units, stride in ((64, 3, 2), (128, 4, 2), (256, 6, 2), (512, 3, 1)):
            for i in range(units):
                self.units.append(Bottleneck(depth_in, base, stride if i == units - 1 else 1))
                depth_in = base * 4

    def __call__(self, x):
        x = tf.nn.relu(self.conv1(x))
        x = tf.nn.max_pool2d(x, 3, 2, "SAME")  # pool1: 112x112 -> 56x56
        for unit in self.units:
            x = unit(x)
        return tf.reduce_mean(x, axis=[1, 2])  # pool5, global average pooling: 2048 features


def build_model(p):
    with tf.device("/GPU:0" if fw.DEVICE["gpu"] else "/CPU:0"):
        model = ResNet50Features(p)
    # inference: batch-norm uses its moving statistics; one compiled forward function
    model.forward = tf.function(model.__call__)
    return model


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.variables)  # trainable and moving statistics


def load_weights(model, path):
    # np.savez(path, *[w.numpy() for w in model.variables]): tf.Module's fixed variable order
    with np.load(path) as f:
        for i, w in enumerate(model.variables):
            w.assign(f["arr_%d" % i])


def _tensor(array):
    return tf.convert_to_tensor(np.ascontiguousarray(array))  # copied to the GPU by the step


def predict(model, x):
    return model.forward(_tensor(x)).numpy()  # features back on the host, as in 2017


def sync(model):
    if fw.DEVICE["gpu"]:
        tf.test.experimental.sync_devices()


# model equivalence (`dlbench check-models`, common/canonical.py): torchvision-style names for
# slim's layers (block b unit u -> layer{b}.{u-1}; shortcut -> downsample.0 / .1), kernels HWIO

def _conv_bns(model):
    """(canonical conv name, canonical batch-norm name, ConvBN) for every layer."""
    found = [("conv1", "bn1", model.conv1)]
    for name, unit in zip(canonical.resnet_unit_names(), model.units):
        for k, layer in ((1, unit.conv1), (2, unit.conv2), (3, unit.conv3)):
            found.append(("%s.conv%d" % (name, k), "%s.bn%d" % (name, k), layer))
        if unit.shortcut is not None:
            found.append((name + ".downsample.0", name + ".downsample.1", unit.shortcut))
    return found


_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "mean"), ("running_var", "var"))


def export_params(model):
    out = {}
    for conv, bn, layer in _conv_bns(model):
        out[conv + ".weight"] = canonical.hwio_to_oihw(layer.kernel.numpy())
        for key, attr in _BN:
            out["%s.%s" % (bn, key)] = getattr(layer, attr).numpy()
    return out


def import_params(model, params):
    canonical.check_keys(params, list(export_params(model)))
    for conv, bn, layer in _conv_bns(model):
        layer.kernel.assign(canonical.oihw_to_hwio(params[conv + ".weight"]))
        for key, attr in _BN:
            getattr(layer, attr).assign(params["%s.%s" % (bn, key)])


def outputs(model, x):
    """The eval-mode pooled features (N, 2048) as float32 numpy."""
    return predict(model, x)
