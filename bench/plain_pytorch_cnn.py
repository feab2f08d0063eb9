"""A plain, hand-written PyTorch training loop of the benchmark CNN: no runner, no adapter.

The yardstick for bench/runner_vs_plain.py: same layers, same initialisation, same
hyper-parameters and the very same synthetic inputs (tasks/runtime/data.py, data only: no runner,
no adapter), timed with one clock around the whole loop. Prints one JSON line.
"""
import argparse
import json

import numpy as np
import torch
import torch.nn as nn

from vs_plain import run_loop  # also puts tasks/ on sys.path

ap = argparse.ArgumentParser()
ap.add_argument("--examples", type=int, default=50000)
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--channels-last", action="store_true")
args = ap.parse_args()

torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(3, 50, 3, padding=1), nn.ReLU(),
    nn.Conv2d(50, 50, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.Dropout(0.25),
    nn.Conv2d(50, 100, 3, padding=1), nn.ReLU(),
    nn.Conv2d(100, 100, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.Dropout(0.25),
    nn.Flatten(), nn.Linear(100 * 8 * 8, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))
assert sum(p.numel() for p in net.parameters()) == 3441592
if args.channels_last:
    net = net.to(memory_format=torch.channels_last)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()

# PyTorch's default init, as the adapter (and 2017's PyTorch_CNN notebook) has it

# The runner's synthetic CIFAR-10 stand-in (seed 0), so both loops see the same numbers:
# CPU kernels can run at different speeds on different values (denormals).
from runtime.data import synthetic_cifar  # noqa: E402
d = synthetic_cifar(0, limit=args.examples)
x, y = d["x_train"], d["y_train"].astype(np.int64)
bs = 64


def step(xb, yb):
    xt = torch.from_numpy(xb)
    if args.channels_last:
        xt = xt.contiguous(memory_format=torch.channels_last)
    opt.zero_grad()
    loss = loss_fn(net(xt), torch.from_numpy(yb))
    loss.backward()
    opt.step()
    return loss


net.train()
loop = run_loop(step, x, y, args.epochs, bs, 0)  # a warm-up step, as the runner, then the loop
print(json.dumps({"seconds": loop.seconds, "images_per_second": loop.images / loop.seconds,
                  "loss": float(loop.last.item()), "threads": torch.get_num_threads()}))
