"""Inference (ResNet-50 feature extraction) in Keras 3, on the backend the variant names.

Keras 3 runs one model definition on TensorFlow, JAX or PyTorch; the variant names the backend
(frameworks/keras3.py sets it before keras is imported). The forward pass is the compiled
predict_on_batch (tf.function / jax.jit; eager on torch). keras.applications.ResNet50 differs from
the PyTorch model (biased convolutions, stride in the first 1x1 conv: 23,534,592 trainable
weights), so the network is written out with the PyTorch adapter's structure and padding:
23,508,032 trainable weights, batch-norm in inference mode on its running statistics, cut after
global average pooling: 2048 features. ResNet-50 layout: He et al. 2015, table 1. NHWC.
"""
import keras
import numpy as np

SETTINGS = {"layout": "NHWC"}


def _conv_bn(x, filters, k, stride=1, padding=0, relu=True):
    # bias-free convolution with PyTorch's explicit padding, then batch-norm (PyTorch's epsilon)
    if padding:
        x = keras.layers.ZeroPadding2D(padding)(x)
    x = keras.layers.Conv2D(filters, k, strides=stride, use_bias=False,
                            kernel_initializer="he_normal")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)
    return keras.layers.ReLU()(x) if relu else x


def _bottleneck(x, inplanes, planes, stride):
    width = planes * 4  # expansion 4
    shortcut = x
    if stride != 1 or inplanes != width:
        shortcut = _conv_bn(x, width, 1, stride=stride, relu=False)
    out = _conv_bn(x, planes, 1)
    out = _conv_bn(out, planes, 3, stride=stride, padding=1)
    out = _conv_bn(out, width, 1, relu=False)
    return keras.layers.ReLU()(keras.layers.Add()([out, shortcut]))


def build_model(p):
    inputs = keras.Input((p["height"], p["width"], p["channels"]))
    x = _conv_bn(inputs, 64, 7, stride=2, padding=3)
    x = keras.layers.ZeroPadding2D(1)(x)  # after relu: zero padding = PyTorch's -inf padding
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    inplanes = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            x = _bottleneck(x, inplanes, planes, stride if i == 0 else 1)
            inplanes = planes * 4
    x = keras.layers.GlobalAveragePooling2D()(x)  # 2048 features
    # inference: predict_on_batch runs batch-norm on its running statistics
    return keras.Model(inputs, x, name="resnet50_features")


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def load_weights(model, path):
    model.load_weights(path)  # a Keras .weights.h5 of this model (model.save_weights)


def predict(model, x):
    return np.asarray(model.predict_on_batch(x))  # features back on the host, as in 2017


def sync(model):
    pass  # predict_on_batch returns host values: nothing is left queued
