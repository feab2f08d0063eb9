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

from common import canonical
from frameworks import chainer as fw

EQUIVALENCE = {"family": "resnet50-caffe"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW",
            "network": "chainer.links.ResNet50Layers (Caffe ResNet-50), features at pool5",
            "autotune": "off (2017's Chainer_Inference set none; its CNN notebook did)"}

# Every weight the network uses, batch-norm running statistics included (the keras3 adapter's
# count): 23,508,032 convolution and batch-norm parameters as in torchvision's ResNet-50 without
# fc, plus the first convolution's 64 biases (the Caffe network has them) = 23,508,096, plus 53
# batch-norms' running mean and variance (53,120). The link also holds fc6, the 1000-way
# classifier, which layers=['pool5'] never runs: not counted, as no other column counts its fc.
PARAMETERS = 23561216


def build_model(p):
    model = L.ResNet50Layers(pretrained_model=None)  # random weights, no download
    # cuDNN autotune off: 2017's Chainer_Inference never turned it on (frameworks/chainer.py
    # init does, as Chainer_CNN and Chainer_MultiGPU did)
    chainer.global_config.autotune = False
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


# Model equivalence (dlbench check-models): the weights in the canonical form, family
# resnet50-caffe (ResNet50Layers): torchvision's names (conv1, bn1, layer<S>.<U>.conv1 ...
# downsample.1; BottleneckA's conv4/bn4 are the downsample) plus conv1.bias, the first
# convolution's bias. Structure beside torchvision's: the stride on conv1 (the 1x1), an unpadded
# 3x3 max pool rounding up (cover_all: 56x56 from 112x112), batch-norm eps 2e-5. Convolutions are
# OIHW in Chainer. fc6 (the classifier) is not exported.
_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "avg_mean"),
       ("running_var", "avg_var"))


def _pairs(model):
    """(canonical name, link, attribute) for every exported array."""
    pairs = [("conv1.weight", model.conv1, "W"), ("conv1.bias", model.conv1, "b")]
    pairs += [("bn1." + c, model.bn1, a) for c, a in _BN]
    for stage, blocks in enumerate((3, 4, 6, 3)):
        res = getattr(model, "res%d" % (stage + 2))
        for i in range(blocks):
            block = getattr(res, "a" if i == 0 else "b%d" % i)
            pre = "layer%d.%d." % (stage + 1, i)
            for k in (1, 2, 3):
                pairs.append((pre + "conv%d.weight" % k, getattr(block, "conv%d" % k), "W"))
                pairs += [(pre + "bn%d.%s" % (k, c), getattr(block, "bn%d" % k), a)
                          for c, a in _BN]
            if i == 0:
                pairs.append((pre + "downsample.0.weight", block.conv4, "W"))
                pairs += [(pre + "downsample.1." + c, block.bn4, a) for c, a in _BN]
    return pairs


def _array(link, attribute):
    value = getattr(link, attribute)
    # a Parameter's array, or a persistent array itself (a numpy array's .data is a buffer)
    return value.data if isinstance(value, chainer.Variable) else value


def export_params(model):
    return dict((c, np.array(fw.to_host(_array(link, a)))) for c, link, a in _pairs(model))


def import_params(model, params):
    canonical.check_keys(params, [c for c, _, _ in _pairs(model)])
    for c, link, a in _pairs(model):
        target = _array(link, a)
        target[...] = fw.to_device(canonical.checked(params[c], c, target.shape))


def outputs(model, x):
    """The (N, 2048) pooled features of a batch, as numpy (test mode: running statistics)."""
    return predict(model, x)
