"""Inference (ResNet-50 feature extraction) in Knet (the Knet row): tasks/inference/knet.jl.

Knet's own ResNet-50 (examples/resnet/resnetlib.jl, the MatConvNet network: bias-free
convolutions, batch-norm), as 2017's Knet_Inference ran it (frameworks/knet.py: Julia hosts this
Python; PyCall), up to the global average pooling: 2048 features. Random weights, NCHW random
images (Knet's column-major WHCN, the same bytes).
"""
import numpy as np

from frameworks import knet as fw

# the network's structure (MatConvNet's ResNet-50, converted from the Caffe model: stride on the
# first 1x1 convolution), which the FLOPs count follows (the family's stem bias aside:
# resnetlib adds one only with the trained weights); no weight mapping below
EQUIVALENCE = {"family": "resnet50-caffe"}
SETTINGS = {"layout": "NCHW",
            "network": "ResNetLib.resnet50 (Knet examples/resnet/resnetlib.jl), stage=5"}
NOT_CHECKED = ("no weight mapping written: resnetlib.jl's flat weight list (MatConvNet's order) "
               "in a column never run here (frameworks/knet.py)")
# torchvision's count: 53 bias-free convolutions and 53 batch-norms (scale, shift, mean, var)
PARAMETERS = 23561152
JULIA = fw.julia_functions("inference")


def build_model(p):
    return JULIA["build_model"](p)


def count_parameters(model):
    return int(JULIA["count_parameters"](model))


def load_weights(model, path):
    raise RuntimeError("--weights: the Knet column loads no weight file (resnetlib.jl loads "
                       "MatConvNet's .mat by downloading it); run without --weights")


def predict(model, x):
    return np.asarray(JULIA["predict_features"](model, x), dtype=np.float32)


def sync(model):
    pass  # predict copies the features to the host: the GPU is done
