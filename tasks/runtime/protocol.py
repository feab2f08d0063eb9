"""The timing protocol: the runner's clock and the loops it times. Adapters never see it.

Boundaries follow the 2017 benchmark: training time is the wall time of the whole training
loop, all epochs, minibatch generation, the per-epoch shuffle and host-to-device copies
included, ending after the device has finished (adapter.sync). A task file whose 2017 program
handed the epoch to the framework (Keras: one model.fit call) gets the epoch's shuffled
complete batches in one train_epoch call instead of one train_step per minibatch (the runner
still draws the shuffle, owns the clock and warms up on the first minibatch). Two figures:
  train_seconds  steady state: one warm-up step (graph compilation, cuDNN autotune) runs before
                 this clock for every framework alike; its time is recorded separately;
  cell_seconds   the 2017 notebooks' figure (the %%time of the training cell): from just before
                 the first step (the warm-up step) to after the last, everything included. It
                 runs one step more than the 2017 cell did (the warm-up step trains too), about
                 train_seconds / batches longer.
After the clock stops (each epoch, and the inference pass), the runner forces a real host copy
of the last result and times it (unsynced_seconds): an adapter whose sync() lets the clock stop
while the device still works shows up there, and run.py flags the result when that copy took
more than UNSYNCED_LIMIT of the timed span ("clock stopped before the device finished").
Evaluation runs afterwards with its own clock. Inference, as every 2017 inference notebook did,
runs one untimed pass over all the batches, then times the forward pass over all of them and
reports seconds per 1000 images.
"""
from __future__ import absolute_import, division, print_function
import numpy as np

from measure import timer
from runtime.batches import batches_in_order, epoch_arrays, minibatches, n_batches
from runtime.output import emit

UNSYNCED_LIMIT = 0.01  # of the timed span: above it, the clock stopped before the device finished


def clock_check(unsynced, timed):
    """The result's checks["clock"]: how long the host copy of the last result took after the
    clock stopped, against the timed span."""
    share = unsynced / timed if timed else None
    flagged = share is not None and share > UNSYNCED_LIMIT
    return {"unsynced_seconds": unsynced, "share": share, "limit": UNSYNCED_LIMIT,
            "flagged": flagged,
            "note": "clock stopped before the device finished" if flagged else None}


class _NoMeter(object):
    def start(self, at=None):
        pass

    def stop(self, at=None):
        pass


def train(adapter, state, data, p, seed, meter=None, by_epoch=False):
    """Warm-up step, then the timed training loop. Returns the timings dict and final loss.
    meter (measure/energy.Meter) is started just before the timed span and stopped just after.
    by_epoch: adapter.train_epoch gets each epoch's batches (its warm-up: the first minibatch);
    its loss is what the framework reports for the epoch (Keras: the mean over its batches)."""
    meter = meter or _NoMeter()
    rng = np.random.RandomState(seed)
    x, y = data["x_train"], data["y_train"]
    bs = p["batch_size"]
    steps = n_batches(len(x), bs)
    if steps == 0:
        raise ValueError("%d training examples make no complete batch of %d" % (len(x), bs))

    step = adapter.train_epoch if by_epoch else adapter.train_step
    cell_start = t = timer.clock()
    step(state, x[:bs], y[:bs])
    adapter.sync(state)
    warmup = timer.clock() - t

    epoch_seconds, unsynced = [], 0.0
    loss = None
    meter.start()
    start = timer.clock()
    paused = 0.0  # the untimed host copies after each epoch's clock, kept out of the total
    for epoch in range(p["epochs"]):
        t = timer.clock()
        if by_epoch:
            xe, ye = epoch_arrays(x, y, bs, rng)
            loss = adapter.train_epoch(state, xe, ye)
        else:
            for xb, yb in minibatches(x, y, bs, rng):
                loss = adapter.train_step(state, xb, yb)
        adapter.sync(state)
        epoch_seconds.append(timer.clock() - t)
        t = timer.clock()
        value = adapter.to_float(loss)  # a real host copy of the last result, after the clock
        copied = timer.clock() - t
        unsynced += copied
        paused += copied
        emit("epoch", epoch=epoch + 1, epochs=p["epochs"], seconds=epoch_seconds[-1],
             loss=value, images_per_second=steps * bs / epoch_seconds[-1])
    end = timer.clock()
    meter.stop(end)
    train_seconds = end - start - paused
    return {
        "train_seconds": train_seconds, "cell_seconds": end - cell_start,
        "epoch_seconds": epoch_seconds, "unsynced_seconds": unsynced,
        "warmup_seconds": warmup, "warmup_steps": 1, "batches": steps * p["epochs"],
        "images_per_second": steps * bs * p["epochs"] / train_seconds if train_seconds else None,
    }, (adapter.to_float(loss) if loss is not None else None)


def evaluate(adapter, state, data, p):
    """Test accuracy over the complete batches of the test split, timed on its own."""
    bs = p["batch_size"]
    x, y = data["x_test"], data["y_test"]
    steps = n_batches(len(x), bs)
    if steps == 0:
        raise ValueError("%d test examples make no complete batch of %d" % (len(x), bs))
    start = timer.clock()
    preds = [adapter.predict(state, xb) for xb in batches_in_order(x, bs)]
    adapter.sync(state)
    seconds = timer.clock() - start
    pred = np.concatenate([np.asarray(q).reshape(-1) for q in preds])
    accuracy = float(np.mean(pred == y[:steps * bs]))
    return {"eval_seconds": seconds}, accuracy


def _host_copy(features):
    """features as numpy: what predict returned, numpy already where the 2017 notebook copied
    each batch to the host, or the framework's array where it kept them on the device (MXNet's
    NDArray, whose host copy is asnumpy())."""
    copy = getattr(features, "asnumpy", None)
    return copy() if copy is not None else np.asarray(features)


def infer(adapter, model, x, p, meter=None):
    """One untimed pass over every batch (the 2017 inference notebooks' warm-up), then the
    timed forward pass over every batch (meter around it, as in train)."""
    meter = meter or _NoMeter()
    bs = p["batch_size"]
    steps = n_batches(len(x), bs)
    t = timer.clock()
    for xb in batches_in_order(x, bs):
        adapter.predict(model, xb)
    adapter.sync(model)
    warmup = timer.clock() - t

    meter.start()
    start = timer.clock()
    features = [adapter.predict(model, xb) for xb in batches_in_order(x, bs)]
    adapter.sync(model)
    seconds = timer.clock() - start
    meter.stop()
    t = timer.clock()
    shape = _host_copy(features[-1]).shape  # (batch, features): a real host copy, after the clock
    unsynced = timer.clock() - t
    n = steps * bs
    emit("batch", batches=steps, seconds=seconds, images_per_second=n / seconds)
    return {
        "train_seconds": None, "eval_seconds": seconds, "warmup_seconds": warmup,
        "warmup_steps": steps, "batches": steps, "unsynced_seconds": unsynced,
        "seconds_per_1000_images": 1000.0 * seconds / n,
        "images_per_second": n / seconds,
    }, int(shape[-1]), n


# Request latency (beyond 2017, which timed batch-32 throughput only): what serving asks.
LATENCY_BATCH_SIZES = (1, 8)
LATENCY_REQUESTS = 50


def latency(adapter, model, x, batch_sizes=LATENCY_BATCH_SIZES, requests=LATENCY_REQUESTS):
    """For each batch size, `requests` requests one after another, each timed alone from the
    call until its features are on the host (predict, sync, the host copy: what a caller waits
    for), after one untimed request of that size (the first call of a new shape compiles or
    plans in several frameworks). Requests take consecutive slices of x, wrapping round.
    {"<batch size>": summary of the request times (latency_summary)}."""
    out = {}
    for bs in batch_sizes:
        if bs > len(x):
            raise ValueError("latency at batch %d needs at least %d images; this run has %d "
                             "(--limit)" % (bs, bs, len(x)))
        starts = list(range(0, len(x) - bs + 1, bs))
        _host_copy(adapter.predict(model, x[:bs]))  # the untimed request
        adapter.sync(model)
        seconds = []
        for i in range(requests):
            xb = x[starts[i % len(starts)]:][:bs]
            t = timer.clock()
            features = adapter.predict(model, xb)
            adapter.sync(model)
            _host_copy(features)
            seconds.append(timer.clock() - t)
        out[str(bs)] = latency_summary(seconds, bs)
        emit("latency", batch_size=bs, requests=requests, p50_ms=out[str(bs)]["p50_ms"])
    return out


def latency_summary(seconds, batch_size):
    """Milliseconds per request: p50, p90, p99 (numpy's linear interpolation: with fewer than
    100 requests p99 lies between the two slowest), min, max, mean, standard deviation, and
    the images per second the requests sustained one at a time."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    return {"batch_size": batch_size, "requests": len(ms), "p50_ms": p50, "p90_ms": p90,
            "p99_ms": p99, "min_ms": float(ms.min()), "max_ms": float(ms.max()),
            "mean_ms": float(ms.mean()), "std_ms": float(ms.std()),
            "images_per_second": batch_size * len(ms) / (float(ms.sum()) / 1000.0)}


# ---------------------------------------------------------------- DenseNet-121 (loader-fed)

# A DenseNet epoch lasts hours on a CPU (87,306 images): a "progress" event at most this often
# tells the host the run is alive (one clock read per step and one JSON line a minute, both far
# below a step's time; the images/s it shows is unsynced, for the display only)
PROGRESS_SECONDS = 60.0


def train_loader(adapter, state, loader, p, validate=None, meter=None,
                 progress_seconds=PROGRESS_SECONDS):
    """The DenseNet training loop: every epoch is one pass over the framework's loader (which
    decodes, augments and batches in its own workers: its time is training time, as 2017
    timed it). The first step of the first epoch is the warm-up: the steady-state clock starts
    after it (sync first). validate(epoch) (real data: the validation pass) runs after each
    epoch's clock stops and is timed on its own; 2017's real-data figure is train + val.
    meter (measure/energy.Meter) follows the steady-state clock: started with it, stopped at
    each pause (the host copy after an epoch and the validation pass), started again after it,
    stopped with the clock: its segments add up to train_seconds. Every progress_seconds
    (None: never) a "progress" event says how far the epoch has got.
    Returns (timings, final loss)."""
    meter = meter or _NoMeter()
    epoch_seconds, valid_seconds, valid_loss = [], [], []
    unsynced, paused, loss, warmup, steps = 0.0, 0.0, None, None, 0
    cell_start = timer.clock()
    start = None
    per_epoch = _batches_per_epoch(loader)
    for epoch in range(p["epochs"]):
        t = timer.clock()
        n = 0
        told = t
        for xb, yb in loader:
            loss = adapter.train_step(state, xb, yb)
            n += 1
            if warmup is None:  # the warm-up step: compile, autotune, loader start-up
                adapter.sync(state)
                warmup = timer.clock() - cell_start
                start = t = told = timer.clock()
                meter.start(start)
                n = 0
            elif progress_seconds is not None and timer.clock() - told >= progress_seconds:
                told = timer.clock()
                emit("progress", epoch=epoch + 1, epochs=p["epochs"], batches=n,
                     of=per_epoch, seconds=told - t,
                     images_per_second=n * p.get("global_batch", p["batch_size"]) / (told - t))
        adapter.sync(state)
        if warmup is None:
            raise ValueError("the training split makes no complete batch of %d"
                             % p.get("global_batch", p["batch_size"]))
        epoch_end = timer.clock()
        epoch_seconds.append(epoch_end - t)
        steps += n
        # the pause, epoch_end .. resumed: the host copy and the validation are not training;
        # the meter stops and starts on these same clock readings (its seconds = the clock's)
        meter.stop(epoch_end)
        t = timer.clock()
        value = adapter.to_float(loss)  # a real host copy of the last result, after the clock
        unsynced += timer.clock() - t
        fields = {}
        if validate is not None:
            t = timer.clock()
            fields["valid_loss"] = validate(epoch)
            valid_seconds.append(timer.clock() - t)
            valid_loss.append(fields["valid_loss"])
        resumed = timer.clock()
        paused += resumed - epoch_end
        meter.start(resumed)
        emit("epoch", epoch=epoch + 1, epochs=p["epochs"], seconds=epoch_seconds[-1], loss=value,
             images_per_second=(n * p.get("global_batch", p["batch_size"]) / epoch_seconds[-1]
                                if epoch_seconds[-1] else None), **fields)
    end = timer.clock()
    meter.stop(end)
    train_seconds = end - start - paused
    images = steps * p.get("global_batch", p["batch_size"])
    per_second = images / train_seconds if train_seconds and images else None
    timings = {
        "train_seconds": train_seconds, "cell_seconds": end - cell_start,
        "epoch_seconds": epoch_seconds, "unsynced_seconds": unsynced,
        "warmup_seconds": warmup, "warmup_steps": 1, "batches": steps,
        "images_per_second": per_second,
        "images_per_second_per_device": (per_second / p.get("devices", 1)
                                         if per_second else None),
    }
    if validate is not None:
        timings["valid_seconds"] = valid_seconds
        timings["train_val_seconds"] = train_seconds + sum(valid_seconds)
    return timings, (adapter.to_float(loss) if loss is not None else None), valid_loss


def _batches_per_epoch(loader):
    """The loader's batches per epoch where it knows (len), else None."""
    try:
        return int(len(loader))
    except Exception:  # a loader without a length (tf.data of unknown cardinality)
        return None


def predict_loader(adapter, state, loader):
    """Every image of an evaluation loader through predict, in order: (probabilities (N, C),
    labels (N, C), seconds). The loader's labels are the ones compared, so a loader that
    reorders or drops images cannot go unnoticed (the caller checks them)."""
    start = timer.clock()
    probs, labels = [], []
    for xb, yb in loader:
        probs.append(np.asarray(adapter.predict(state, xb)))
        labels.append(np.asarray(yb))
    adapter.sync(state)
    seconds = timer.clock() - start
    if not probs:
        raise ValueError("the evaluation split is empty")
    return np.concatenate(probs), np.concatenate(labels), seconds
