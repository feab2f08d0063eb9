"""A plain, hand-written PyTorch training loop of the benchmark CNN: no runner, no adapter.

The yardstick for bench/runner_vs_plain.py: same layers, same initialisation, same
hyper-parameters and the very same synthetic inputs (tasks/common/data.py, data only: no runner,
no adapter), timed with one clock around the whole loop. Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

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
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tasks"))
from common.data import synthetic_cifar  # noqa: E402
d = synthetic_cifar(0, limit=args.examples)
x, y = d["x_train"], d["y_train"].astype(np.int64)
args.examples = len(x)
rng = np.random.RandomState(0)
bs = 64
steps = args.examples // bs


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
step(x[:bs], y[:bs])  # warm-up, as the runner does
start = time.perf_counter()
for epoch in range(args.epochs):
    order = rng.permutation(args.examples)
    for i in range(steps):
        idx = order[i * bs:(i + 1) * bs]
        loss = step(x[idx], y[idx])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "images_per_second": steps * bs * args.epochs / seconds,
                  "loss": float(loss.item()), "threads": torch.get_num_threads()}))
