"""RNN (GRU sentiment classifier, IMDB) in PyTorch.

One file serves the 2017 image (torch 0.3.1, Python 3.5) and current PyTorch, so it keeps to
the API both accept: Variable wrappers (a no-op today), .data instead of .item(), no
torch.device. Model as in the 2017 benchmark's PyTorch RNN notebook; sizes in common/params.py.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.autograd import Variable

from common import canonical
from frameworks import pytorch as fw

EQUIVALENCE = {"family": "gru-reset-after"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC (batch_first)"}


class GRUClassifier(nn.Module):
    def __init__(self, p):
        super(GRUClassifier, self).__init__()
        self.embedding = nn.Embedding(p["max_features"], p["embedding"])
        self.gru = nn.GRU(p["embedding"], p["hidden"], batch_first=True)
        self.fc = nn.Linear(p["hidden"], p["n_classes"])

    def forward(self, x):
        x = self.embedding(x)
        out, _ = self.gru(x)     # initial hidden state: zeros
        return self.fc(out[:, -1, :])  # last output -> logits; softmax lives in the loss


def build_model(p):
    model = GRUClassifier(p)
    if fw.DEVICE["cuda"]:
        model = model.cuda()
    return model


def count_parameters(model):
    return sum(w.data.numel() for w in model.parameters())


def build_trainer(model, p):
    return {"model": model,
            "loss": nn.CrossEntropyLoss(),
            "optimizer": optim.Adam(model.parameters(), lr=p["lr"],
                                    betas=(p["beta1"], p["beta2"]), eps=p["eps"])}


def _tensor(array):
    t = torch.from_numpy(np.ascontiguousarray(array))
    if fw.DEVICE["cuda"]:
        t = t.cuda()  # host-to-device copy, inside the timed loop as in 2017
    return t


def train_step(state, x, y):
    model = state["model"]
    model.train()
    xb = Variable(_tensor(x.astype(np.int64)))
    yb = Variable(_tensor(y.astype(np.int64)))
    state["optimizer"].zero_grad()
    loss = state["loss"](model(xb), yb)
    loss.backward()
    state["optimizer"].step()
    return loss


def to_float(loss):
    return float(loss.data.cpu().numpy().ravel()[0])


_NO_GRAD = getattr(torch, "no_grad", None)  # PyTorch >= 0.4; 0.3.1 marks inputs volatile


def _eval_logits(state, x):
    model = state["model"]
    model.eval()
    if _NO_GRAD is not None:
        with _NO_GRAD():
            return model(Variable(_tensor(x.astype(np.int64)))).data
    return model(Variable(_tensor(x.astype(np.int64)), volatile=True)).data


def predict(state, x):
    return _eval_logits(state, x).max(1)[1].cpu().numpy()


def sync(state):
    if fw.DEVICE["cuda"]:
        torch.cuda.synchronize()


# model equivalence (`dlbench check-models`, common/canonical.py): nn.GRU's gate order is the
# canonical (r, z, n); its parameters lose the layer suffix (gru.weight_ih_l0 -> gru.weight_ih)

def _canonical_name(key):
    return key[:-3] if key.endswith("_l0") else key


def export_params(state):
    return dict((_canonical_name(k), v.cpu().numpy().copy())
                for k, v in state["model"].state_dict().items())


def import_params(state, params):
    model = state["model"]
    names = dict((_canonical_name(k), k) for k in model.state_dict().keys())
    canonical.check_keys(params, list(names))
    model.load_state_dict(dict((names[k], torch.from_numpy(np.ascontiguousarray(v)))
                               for k, v in params.items()))


def outputs(state, x):
    """The eval-mode final logits (N, 2) as float32 numpy."""
    return _eval_logits(state, x).float().cpu().numpy()
