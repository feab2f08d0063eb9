"""Inference (ResNet-50 feature extraction) in Chainer.

One file serves the 2017 image (Chainer 3.4.0) and Chainer 7.8.1. As 2017's Chainer_Inference
notebook: chainer.links.ResNet50Layers (the Caffe ResNet-50 of He et al., a biased 7x7 first
convolution, stride on the first 1x1 convolution of each stage), called with layers=['pool5']:
global average pooling, 2048 features, NCHW random images, batch 32, test mode (batch-norm
running statistics). 2017 loaded the converted Caffe weights (pretrained_model="auto", a
download); here pretrained_model=None: random He-normal weights, nothing downloaded, which is
what the timing needs.
"""
import numpy as np
import chainer
import chainer.links as L

from frameworks import chainer as fw

SETTINGS = {"layout": "NCHW",
            "network": "chainer.links.ResNet50Layers (Caffe ResNet-50), features at pool5"}

# Every weight the network uses, batch-norm running statistics included (the keras3 adapter's
# count): 23,508,032 convolution and batch-norm parameters as in torchvision's ResNet-50 without
# fc, plus the first convolution's 64 biases (the Caffe network has them) = 23,508,096, plus 53
# batch-norms' running mean and variance (53,120). The link also holds fc6, the 1000-way
# classifier, which layers=['pool5'] never runs: not counted, as no other column counts its fc.
PARAMETERS = 23561216
# The ResNet-50 family common/flops.py counts (where the stride sits changes the FLOPs):
# Caffe's ResNet-50: stride on each stage's first 1x1.
STRUCTURE = "stride-on-1x1"


def build_model(p):
    model = L.ResNet50Layers(pretrained_model=None)  # random weights, no download
    if fw.DEVICE["gpu"]:
        model.to_gpu()
    return model


def count_parameters(model):
    classifier = set(id(w) for w in model.fc6.params())
    weights = sum(w.data.size for w in model.params() if id(w) not in classifier)
    # batch-norm running statistics: each link's registered persistent arrays (avg_mean,
    # avg_var), not the scalar counter N; _persistent is the registry in Chainer 3 and 7
    stats = sum(getattr(link, name).size for link in model.links() if link is not model.fc6
                for name in link._persistent if hasattr(getattr(link, name), "size"))
    return weights + stats


def load_weights(model, path):
    chainer.serializers.load_npz(path, model)  # an .npz of ResNet50Layers (fc6 included)


def predict(model, x):
    with chainer.using_config("train", False), chainer.using_config("enable_backprop", False):
        out = model(fw.to_device(np.ascontiguousarray(x)), layers=["pool5"])["pool5"]
    return fw.to_host(out.data)  # features back on the host, as in 2017


def sync(model):
    fw.synchronize()
