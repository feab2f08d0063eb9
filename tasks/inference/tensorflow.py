"""Inference (ResNet-50 feature extraction) in TensorFlow 2.

Plain TensorFlow: variables in tf.Modules, tf.nn ops and a tf.function forward pass; no Keras
(its column is keras3, and keras.applications' ResNet-50 differs: biased convolutions, stride in
the first 1x1 conv). The network is written out with the PyTorch adapter's structure and
padding, so it has the same 23,508,032 trainable weights; batch-norm runs in inference mode on
its (non-trainable) running statistics. Cut after global average pooling: 2048 features.
ResNet-50 layout: He et al. 2015, table 1. NHWC, TensorFlow's CPU layout.
"""
import numpy as np
import tensorflow as tf

from frameworks import tensorflow as fw

SETTINGS = {"layout": "NHWC"}


class ConvBN(tf.Module):
    """A bias-free convolution and its batch-norm, with PyTorch's explicit padding."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super(ConvBN, self).__init__()
        std = np.sqrt(2.0 / (k * k * cout))  # He-normal (fan-out), as torchvision initialises
        self.kernel = tf.Variable(tf.random.normal([k, k, cin, cout], stddev=std))
        self.gamma = tf.Variable(tf.ones([cout]))
        self.beta = tf.Variable(tf.zeros([cout]))
        self.mean = tf.Variable(tf.zeros([cout]), trainable=False)
        self.var = tf.Variable(tf.ones([cout]), trainable=False)
        self.stride = stride
        self.padding = [[0, 0], [padding, padding], [padding, padding], [0, 0]]

    def __call__(self, x):
        x = tf.nn.conv2d(x, self.kernel, self.stride, self.padding)
        return tf.nn.batch_normalization(x, self.mean, self.var, self.beta, self.gamma, 1e-5)


class Bottleneck(tf.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride):
        super(Bottleneck, self).__init__()
        width = planes * self.expansion
        self.conv1 = ConvBN(inplanes, planes, 1)
        self.conv2 = ConvBN(planes, planes, 3, stride=stride, padding=1)
        self.conv3 = ConvBN(planes, width, 1)
        self.downsample = None
        if stride != 1 or inplanes != width:
            self.downsample = ConvBN(inplanes, width, 1, stride=stride)

    def __call__(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = tf.nn.relu(self.conv1(x))
        out = tf.nn.relu(self.conv2(out))
        out = self.conv3(out)
        return tf.nn.relu(out + shortcut)


class ResNet50Features(tf.Module):
    def __init__(self, p):
        super(ResNet50Features, self).__init__()
        self.conv1 = ConvBN(p["channels"], 64, 7, stride=2, padding=3)
        inplanes, self.blocks = 64, []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(blocks):
                self.blocks.append(Bottleneck(inplanes, planes, stride if i == 0 else 1))
                inplanes = planes * Bottleneck.expansion

    def __call__(self, x):
        x = tf.nn.relu(self.conv1(x))
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-np.inf)
        x = tf.nn.max_pool2d(x, 3, 2, "VALID")  # PyTorch's max_pool2d(3, 2, padding=1)
        for block in self.blocks:
            x = block(x)
        return tf.reduce_mean(x, axis=[1, 2])  # global average pooling: 2048 features


def build_model(p):
    with tf.device("/GPU:0" if fw.DEVICE["gpu"] else "/CPU:0"):
        model = ResNet50Features(p)
    # inference: batch-norm uses its running statistics; one compiled forward function
    model.forward = tf.function(model.__call__)
    return model


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_variables)


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
