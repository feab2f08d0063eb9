"""Inference (ResNet-50 feature extraction) in PyTorch.

One file serves the 2017 image (torch 0.3.1, Python 3.5) and current PyTorch. 2017 used
torchvision's resnet50 with its last child (fc) chopped off, leaving AvgPool2d(7) on 224x224
images: global average pooling, 2048 features (ilkarman/DeepLearningFrameworks,
notebooks/PyTorch_Inference.ipynb; NCHW random images, batch 32). The network is written out
here rather than taken from torchvision, so the image needs only the framework, with
torchvision's structure (stride on the 3x3 convolution of each stage's first block, bias-free
convolutions) and module names, so a torchvision ResNet-50 state dict loads (its fc.* keys are
dropped). ResNet-50 layout: He et al. 2015, table 1 (stages of 3, 4, 6, 3 bottlenecks, widths
64..512, expansion 4).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable

from common import canonical
from frameworks import pytorch as fw

EQUIVALENCE = {"family": "resnet50-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW", "network": "torchvision resnet50 structure, fc removed"}

# Every weight the network holds, batch-norm running statistics included (the keras3 adapter's
# count, Keras's "Total params"): torchvision's 23,508,032 parameters without fc (25,557,032
# with it, less 2048 x 1000 + 1000) and 53 batch-norms' running mean and variance (53,120).
PARAMETERS = 23561152


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride):
        super(Bottleneck, self).__init__()
        width = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or inplanes != width:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, width, 1, stride=stride,
                                                      bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + shortcut)


class ResNet50Features(nn.Module):
    def __init__(self, p):
        super(ResNet50Features, self).__init__()
        self.conv1 = nn.Conv2d(p["channels"], 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        inplanes, stages = 64, []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(inplanes, planes, stride if i == 0 else 1))
                inplanes = planes * Bottleneck.expansion
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.avg_pool2d(x, x.size(2))  # global average pooling: 7x7 -> 1x1
        return x.view(x.size(0), -1)    # 2048 features


def build_model(p):
    model = ResNet50Features(p)
    if fw.DEVICE["cuda"]:
        model = model.cuda()
    if fw.DEVICE["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    model.eval()  # inference: batch-norm uses its running statistics
    return model


def count_parameters(model):
    # parameters and running statistics; not num_batches_tracked (PyTorch >= 0.4.1), a counter
    return sum(v.numel() for k, v in model.state_dict().items()
               if not k.endswith("num_batches_tracked"))


def load_weights(model, path):
    state = torch.load(path, map_location=lambda storage, loc: storage)
    state = dict((k, v) for k, v in state.items() if not k.startswith("fc."))
    model.load_state_dict(state)


def _tensor(array):
    t = torch.from_numpy(np.ascontiguousarray(array))
    if fw.DEVICE["cuda"]:
        t = t.cuda()  # host-to-device copy, inside the timed loop as in 2017
    if fw.DEVICE["channels_last"]:
        t = t.contiguous(memory_format=torch.channels_last)
    return t


_NO_GRAD = getattr(torch, "no_grad", None)  # PyTorch >= 0.4; 0.3.1 marks inputs volatile


_FROZEN = {}  # id(model) -> (model, its compiled form): the tuned CPU variant's


def _runnable(model, t):
    """What runs the batch: the model itself, or (tuned on the CPU: fw.DEVICE["freeze"]) a
    compiled form, built on the first batch (the untimed pass): torch.compile's inductor with
    freezing (weights become constants, batch-norm folded into the convolutions, oneDNN
    weights prepacked; C++ kernels for the rest), or where the image has no C++ compiler
    TorchScript, traced, frozen and optimised for inference: PyTorch's CPU inference practice
    (its performance tuning guide). A new batch size compiles again, on its first (untimed)
    batch."""
    if not fw.DEVICE["freeze"]:
        return model
    if id(model) not in _FROZEN:
        if fw.DEVICE["freeze"] == "inductor":
            import torch._inductor.config as inductor_config
            inductor_config.freezing = True
            compiled = torch.compile(model)
        else:
            compiled = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model,
                                                                                         t)))
        _FROZEN[id(model)] = (model, compiled)  # the model kept: its id stays its own
    return _FROZEN[id(model)][1]


def predict(model, x):
    if _NO_GRAD is not None:
        with _NO_GRAD(), fw.autocast():  # fp32 unless a mixed-precision variant
            t = Variable(_tensor(x))
            out = _runnable(model, t)(t)
    else:
        out = model(Variable(_tensor(x), volatile=True))
    return out.data.float().cpu().numpy()  # features back on the host (fp32), as in 2017


def sync(model):
    if fw.DEVICE["cuda"]:
        torch.cuda.synchronize()


# model equivalence (`dlbench check-models`, common/canonical.py): torchvision's state-dict
# names are the canonical ones (num_batches_tracked, a counter, is no parameter)

def export_params(model):
    return dict((k, v.cpu().numpy().copy()) for k, v in model.state_dict().items()
                if not k.endswith("num_batches_tracked"))


def import_params(model, params):
    canonical.check_keys(params, list(export_params(model)))
    # a plain dict: batch-norm fills in num_batches_tracked itself
    model.load_state_dict(dict((k, torch.from_numpy(np.ascontiguousarray(v)))
                               for k, v in params.items()))


def outputs(model, x):
    """The eval-mode pooled features (N, 2048) as float32 numpy."""
    return predict(model, x)
