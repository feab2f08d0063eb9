"""Cross-check tasks/measure/flops.py against XLA's own count (a script, not a test): inside the
flax image, compile each Flax task's jitted functions and ask XLA for their FLOPs
(jax.jit(f).lower(...).compile().cost_analysis()), per example, beside dlbench's count.

    docker run --rm --network none -v "$PWD/tasks:/tasks:ro" -v "$PWD/bench:/bench:ro" \\
        dlbench/flax-0.12 python3 /bench/flops_crosscheck.py

Prints one JSON line per function. XLA's count is not dlbench's convention: it adds one FLOP per
element of every element-wise operation (bias, ReLU, batch-norm, pooling, softmax, the
optimiser's update) to the 2 per multiply-add of convolutions and dot products, and counts a
while loop's body once, whatever its trip count (the GRU's lax.scan over 150 steps). The
PyTorch cross-check, exact, is tests/tasks/test_flops.py (torch.utils.flop_counter).

Measured (flax-0.12 image, JAX 0.10, 2026-11-30): CNN forward 0.941 x dlbench's count, training
step 0.947 x, ResNet-50 forward 0.978 x: XLA leaves out the kernel taps on the zero padding
((94/96)^2 = 0.959 of a 3x3 'same' convolution's taps on 32x32, (46/48)^2 = 0.918 on 16x16);
GRU 0.008 x (the scan body counted once).
"""
import json
import os
import sys

sys.path.insert(0, "/tasks" if os.path.isdir("/tasks") else os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tasks"))

import numpy as np  # noqa: E402

from common import params  # noqa: E402
from measure import flops  # noqa: E402
from runtime import adapters  # noqa: E402


def xla_flops(jitted, *args):
    cost = jitted.lower(*args).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):  # older JAX: one dict per computation
        cost = cost[0]
    return float(cost.get("flops", float("nan")))


def report(task, function, counted, batch, ours):
    per = counted / batch
    print(json.dumps({"task": task, "function": function, "xla_flops_per_example": per,
                      "dlbench_flops_per_example": ours,
                      "xla_over_dlbench": per / ours if ours else None}, sort_keys=True))


def main():
    for task in ("cnn", "rnn", "inference"):
        p = params.for_task(task)
        fw, adapter, _ = adapters.start(task, "flax", "reference", "cpu", 0)
        model = adapter.build_model(p)
        bs = p["batch_size"]
        if task == "inference":
            x = np.zeros((bs, p["height"], p["width"], p["channels"]), np.float32)
            report(task, "forward", xla_flops(model["forward"], model["weights"], x), bs,
                   flops.forward_flops(task, p, getattr(adapter, "STRUCTURE", None)))
            continue
        state = adapter.build_trainer(model, p)
        if task == "cnn":
            x = np.zeros((bs, p["height"], p["width"], p["channels"]), np.float32)
        else:
            x = np.zeros((bs, p["maxlen"]), np.int32)
        y = np.zeros((bs,), np.int32)
        report(task, "classes (forward + argmax)",
               xla_flops(state["classes"], state["params"], x), bs, flops.forward_flops(task, p))
        extra = (state["n"],) if "n" in state else ()
        report(task, "step (forward, backward, optimiser)",
               xla_flops(state["step"], state["params"], state["opt_state"], x, y, *extra), bs,
               flops.train_flops(task, p))


if __name__ == "__main__":
    main()
