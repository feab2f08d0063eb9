"""Inference (ResNet-50 feature extraction) in Keras 2 (multi-backend), on the backend the
variant names.

The network is Keras's own model zoo, as 2017 used it: ilkarman/DeepLearningFrameworks,
notebooks/Keras_TF_Inference.ipynb and Keras_CNTK_Inference.ipynb (Keras 2.1.4) build
`ResNet50(include_top=False, input_shape=(224,224,3))` from keras.applications.resnet50 and time
`predict_on_batch` on channels-last random images, batch 32 (2017 had no Keras(Theano)
inference notebook; the same here). Keras 2.1.4 put the stride of each stage's first block on
its first 1x1 convolution, gave every convolution a bias and ended with AveragePooling2D((7, 7));
pooling="avg" adds the global average that makes (N, 2048) features in 2.1.4 and 2.3.1 alike.
Keras 2.3.1's ResNet50 (keras_applications 1.0.8) has the same layers and weights and pads
before the first max-pooling (56x56 maps in the first stage where 2.1.4 had 55x55).

Weights are random (weights=None): 2017 loaded ImageNet weights, but times random images, and a
benchmark never downloads; `--weights FILE` loads a local file (Keras's notop .h5 included).
"""
import keras
import numpy as np

SETTINGS = {"layout": "NHWC",
            "network": "keras.applications.resnet50.ResNet50(include_top=False, pooling='avg')"}

# Every weight the network holds, batch-norm moving statistics included: Keras's "Total params"
# (model.count_params()), the keras3 adapter's count: 53 convolutions with biases (23,481,472)
# and 53 batch-norms of 4 x 26,560 (106,240).
PARAMETERS = 23587712
# The ResNet-50 family common/flops.py counts (where the stride sits changes the FLOPs):
# keras.applications: stride on each stage's first 1x1.
STRUCTURE = "stride-on-1x1"


def build_model(p):
    keras.backend.set_image_data_format("channels_last")  # as Keras_TF_Inference set it
    # inference: predict_on_batch runs batch-norm on its moving statistics
    return keras.applications.resnet50.ResNet50(
        include_top=False, weights=None, pooling="avg",
        input_shape=(p["height"], p["width"], p["channels"]))


def count_parameters(model):
    return model.count_params()  # trainable and moving statistics


def load_weights(model, path):
    # an .h5 of this model (model.save_weights), or Keras's
    # resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 (layers matched by name)
    model.load_weights(path, by_name=True)


def predict(model, x):
    return np.asarray(model.predict_on_batch(x)).reshape(len(x), -1)  # features on the host


def sync(model):
    pass  # predict_on_batch returns host values: nothing is left queued
