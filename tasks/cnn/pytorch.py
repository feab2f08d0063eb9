"""CNN (VGG-style, CIFAR-10) in PyTorch.

One file serves the 2017 image (torch 0.3.1, Python 3.5) and current PyTorch, so it keeps to
the API both accept: Variable wrappers (a no-op today), .data instead of .item(), no
torch.device. Model as in the 2017 benchmark's PyTorch CNN notebook; sizes in common/params.py.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.autograd import Variable

from common import canonical
from frameworks import pytorch as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW"}


class VGGStyleCNN(nn.Module):
    # Weights and biases keep PyTorch's default init, uniform(+-1/sqrt(fan_in)), as the 2017
    # PyTorch_CNN notebook did (it sets no initialiser; torch 0.3.1's reset_parameters drew the
    # same range). The Keras/TensorFlow columns use Glorot with zero biases, their notebooks'
    # defaults: each framework starts as its own 2017 notebook did. (From this init the CNN stays
    # near its initial loss, ln 10, for its first ~100 SGD steps: measured on the tests'
    # generated CIFAR-10 file.)
    def __init__(self, p):
        super(VGGStyleCNN, self).__init__()
        c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
        pad = k // 2  # 'same' padding
        self.conv1 = nn.Conv2d(p["channels"], c1, k, padding=pad)
        self.conv2 = nn.Conv2d(c1, c1, k, padding=pad)
        self.conv3 = nn.Conv2d(c1, c2, k, padding=pad)
        self.conv4 = nn.Conv2d(c2, c2, k, padding=pad)
        flat = c2 * (p["height"] // 4) * (p["width"] // 4)
        self.fc1 = nn.Linear(flat, p["dense_units"])
        self.fc2 = nn.Linear(p["dense_units"], p["n_classes"])
        self.drop_conv = nn.Dropout(p["dropout_conv"])
        self.drop_dense = nn.Dropout(p["dropout_dense"])
        self.pool = p["pool"]

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(F.max_pool2d(self.conv2(x), self.pool))
        x = self.drop_conv(x)
        x = F.relu(self.conv3(x))
        x = F.relu(F.max_pool2d(self.conv4(x), self.pool))
        x = self.drop_conv(x)
        x = x.contiguous().view(x.size(0), -1)  # NCHW flatten order (a copy when channels-last)
        x = self.drop_dense(F.relu(self.fc1(x)))
        return self.fc2(x)  # logits: softmax lives in the loss


def build_model(p):
    model = VGGStyleCNN(p)
    if fw.DEVICE["cuda"]:
        model = model.cuda()
    if fw.DEVICE["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return model


def count_parameters(model):
    return sum(w.data.numel() for w in model.parameters())


def build_trainer(model, p):
    return {"model": model,
            "loss": nn.CrossEntropyLoss(),
            "optimizer": optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"])}


def _tensor(array):
    t = torch.from_numpy(np.ascontiguousarray(array))
    if fw.DEVICE["cuda"]:
        t = t.cuda()  # host-to-device copy, inside the timed loop as in 2017
    if fw.DEVICE["channels_last"] and t.dim() == 4:
        t = t.contiguous(memory_format=torch.channels_last)
    return t


def train_step(state, x, y):
    model = state["model"]
    model.train()  # dropout on
    xb = Variable(_tensor(x))
    yb = Variable(_tensor(y.astype(np.int64)))
    state["optimizer"].zero_grad()
    with fw.autocast():  # fp32 unless a mixed-precision variant
        loss = state["loss"](model(xb), yb)
    loss.backward()
    state["optimizer"].step()
    return loss


def to_float(loss):
    return float(loss.data.cpu().numpy().ravel()[0])


_NO_GRAD = getattr(torch, "no_grad", None)  # PyTorch >= 0.4; 0.3.1 marks inputs volatile


def _eval_logits(state, x):
    model = state["model"]
    model.eval()  # dropout off
    if _NO_GRAD is not None:
        with _NO_GRAD(), fw.autocast():
            return model(Variable(_tensor(x))).data
    return model(Variable(_tensor(x), volatile=True)).data


def predict(state, x):
    return _eval_logits(state, x).max(1)[1].cpu().numpy()


def sync(state):
    if fw.DEVICE["cuda"]:
        torch.cuda.synchronize()


# model equivalence (`dlbench check-models`, common/canonical.py): PyTorch's own names and
# layouts are the canonical ones for this network

def export_params(state):
    return dict((k, v.cpu().numpy().copy()) for k, v in state["model"].state_dict().items())


def import_params(state, params):
    model = state["model"]
    canonical.check_keys(params, list(model.state_dict().keys()))
    model.load_state_dict(dict((k, torch.from_numpy(np.ascontiguousarray(v)))
                               for k, v in params.items()))


def outputs(state, x):
    """The eval-mode logits (N, 10) as float32 numpy."""
    return _eval_logits(state, x).float().cpu().numpy()
