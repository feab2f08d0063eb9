"""What the adapter-vs-plain scripts share (bench/*_vs_plain.py, bench/plain_pytorch_cnn.py).

Each of those scripts sets one adapter, run through the task runner (tasks/runtime/protocol.py,
the clock every result is timed by), beside a plain loop written again in the same framework,
and prints the throughput of both and their ratio. The shared part, here once:
  train_loop / run_loop  the plain side's training loop and clock: one warm-up step (compiles,
                         as the runner's warm-up step does), then every complete minibatch of a
                         fresh permutation each epoch, timed with one clock around the loop;
  fit_run / fit_loop     the plain side for Keras: 2017's notebooks' own loop, one model.fit
                         over every epoch (Keras shuffles and batches), after a warm-up fit on
                         the first minibatch;
  built_once             a model built on the first round and trained again in every later
                         one (the Keras comparisons: a round is then seconds of training on
                         each side, no model building between them, so the machine's speed
                         changes fall on both sides of a round alike);
  forward_rate           the plain side's timed forward pass over the complete batches;
  alternate              the rounds: both sides once a round, their order swapped every round
                         (adapter first in rounds 1, 3, ...), so a drift in what else the
                         machine runs falls on both sides alike; one line printed per round;
  ratio_text             adapter/plain per round and their median, the figure quoted against
                         the goal (>= 0.95);
  adapter_train, adapter_infer   the adapter's side: protocol.train / protocol.infer;
  quiet, cpu_name        the runner's progress events kept off the output; the CPU's name;
  cpu_only_skip          a GPU-only variant (TF32, mixed precision) skipped in one line.

These scripts run inside the framework images, from Python 3.5 (the 2017 images) to current
ones, and this module and bench/theano_vs_plain.py on Python 2.7 too (cntk-2.7: Keras on CNTK):
the standard library and numpy only here (tests/project/test_bench_vs_plain.py checks both with
vermin). Importing this module puts tasks/ on sys.path (tasks/runtime is what the scripts time
the adapters with).
"""
from __future__ import absolute_import, division, print_function
import collections
import contextlib
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "tasks") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tasks"))
clock = getattr(time, "perf_counter", time.time)  # Python 2.7: time.time
# the process's CPU seconds, all its threads (Python 2.7: time.clock, the same on Linux)
cpu_clock = getattr(time, "process_time", None) or getattr(time, "clock")
GOAL = 0.95  # adapter/plain: the runner within 5 % of a plain loop

Loop = collections.namedtuple("Loop", "images seconds cpu_seconds last")


def run_loop(step, x, y, epochs, bs, seed, done=lambda: None, to_device=lambda a: a):
    """One warm-up step on the first minibatch, then `epochs` passes over every complete
    minibatch in a fresh permutation (numpy RandomState(seed)); done() waits for the device
    after the warm-up and after the loop. The images trained, the wall and process CPU seconds
    of the loop (all threads), and the last step's return value."""
    rng = np.random.RandomState(seed)
    step(to_device(x[:bs]), to_device(y[:bs]))  # warm-up: compile, as the runner does
    done()
    steps = len(x) // bs
    last = None
    start, cpu = clock(), cpu_clock()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            last = step(to_device(x[idx]), to_device(y[idx]))
    done()
    return Loop(steps * bs * epochs, clock() - start, cpu_clock() - cpu, last)


def train_loop(step, x, y, epochs, bs, seed, done=lambda: None, to_device=lambda a: a):
    """run_loop's images per second (wall time)."""
    loop = run_loop(step, x, y, epochs, bs, seed, done, to_device)
    return loop.images / loop.seconds


def fit_run(model, x, y, epochs, bs):
    """2017's Keras training cell: model.fit(x, y, batch_size, epochs, shuffle, verbose off) on
    a compiled model, after an untimed fit on the first minibatch (Keras builds its training
    function there, as the runner's warm-up does). A Loop of the timed fit (no last value)."""
    model.fit(x[:bs], y[:bs], batch_size=bs, epochs=1, verbose=0)
    n = len(x) // bs * bs  # complete batches, as the runner's
    start, cpu = clock(), cpu_clock()
    model.fit(x[:n], y[:n], batch_size=bs, epochs=epochs, shuffle=True, verbose=0)
    return Loop(n * epochs, clock() - start, cpu_clock() - cpu, None)


def fit_loop(model, x, y, epochs, bs):
    """fit_run's images per second (wall time)."""
    run = fit_run(model, x, y, epochs, bs)
    return run.images / run.seconds


def forward_rate(fn, x, bs, warm_all=False, done=None):
    """Images per second of fn over the complete batches of x, after an untimed call on the
    first batch (warm_all: on every batch, as protocol.infer's untimed pass); done(): waits for
    asynchronous work after each pass (MXNet's engine), inside the clock."""
    batches = [x[i:i + bs] for i in range(0, len(x) - bs + 1, bs)]
    for b in (batches if warm_all else batches[:1]):
        fn(b)
    if done is not None:
        done()
    start = clock()
    for b in batches:
        fn(b)
    if done is not None:
        done()
    return len(batches) * bs / (clock() - start)


@contextlib.contextmanager
def nothing():
    yield


def median(values):
    """The median (statistics.median, which Python 2.7 lacks)."""
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def built_once(build):
    """A function returning build()'s value: built on its first call, the same one after."""
    kept = []

    def get():
        if not kept:
            kept.append(build())
        return kept[0]
    return get


def adapter_train(module, p, d, context=nothing, by_epoch=False, state=None):
    """Images per second of the adapter's task module through protocol.train (the runner's loop
    and clock, its warm-up step outside the figure) on data d, a model built afresh (inside
    context(): tensorflow1 builds into a graph of its own) unless state (build_trainer's) is
    given; by_epoch: train_epoch, as run.py calls it where the settings' training_loop says
    so."""
    from runtime import protocol
    if state is None:
        with context():
            state = module.build_trainer(module.build_model(p), p)
    with quiet():
        timings, _ = protocol.train(module, state, d, p, 0, by_epoch=by_epoch)
    return timings["images_per_second"]


def adapter_infer(module, model, x, p):
    """Images per second of the adapter's model through protocol.infer (its untimed pass, then
    the timed one)."""
    from runtime import protocol
    with quiet():
        timings = protocol.infer(module, model, x, p)[0]
    return timings["images_per_second"]


@contextlib.contextmanager
def quiet():
    """stdout to /dev/null: the runner prints its progress events there."""
    stdout = sys.stdout
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            yield
        finally:
            sys.stdout = stdout


def alternate(pairs, adapter, plain, show, names=("adapter", "plain")):
    """adapter() and plain() once each in every one of `pairs` rounds, adapter first in rounds
    1, 3, ... and plain first in rounds 2, 4, ...; after each round prints
    show(round, adapter's value, plain's value). The two lists of values, in round order."""
    got = {names[0]: [], names[1]: []}
    sides = {names[0]: adapter, names[1]: plain}
    for i in range(pairs):
        for which in (names if i % 2 == 0 else names[::-1]):
            got[which].append(sides[which]())
        print(show(i + 1, got[names[0]][-1], got[names[1]][-1]))
        sys.stdout.flush()
    return got[names[0]], got[names[1]]


def ratio_text(adapter, plain, names="adapter/plain"):
    """'adapter/plain per round 0.981, 1.004, median 0.993 (goal >= 0.95)': each round's ratio
    (its two runs back to back, so the ratio cancels most of the machine's other work) and
    their median, the figure to quote."""
    r = [a / p for a, p in zip(adapter, plain)]
    return "%s per round %s, median %.3f (goal >= %.2f)" % (
        names, ", ".join("%.3f" % v for v in r), median(r), GOAL)


def cpu_only_skip(adapter, variant):
    """None when the adapter's variant runs on a CPU (or is not declared: the adapter's own error
    then says so), else the line a script prints instead of running it: these scripts time on
    the CPU, and `make adapters-vs-plain` hands them every variant, GPU-only ones included
    (TF32, mixed precision)."""
    from runtime import adapters
    try:
        fw = adapters.framework(adapter)
    except LookupError:
        return None
    for v in fw.VARIANTS:
        if v["name"] == variant and "cpu" not in v.get("devices", ("cpu",)):
            return "# %s/%s runs on %s only: skipped (these scripts time the CPU)" % (
                adapter, variant, " and ".join(v["devices"]))
    return None


def cpu_name():
    """The CPU's model name (/proc/cpuinfo; measure/envprobe.py, which results record), else the
    machine type."""
    from measure import envprobe
    return envprobe.cpu_model() or platform.machine()
