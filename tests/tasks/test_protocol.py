"""tasks/runtime/protocol.py: what each clock covers, with a stand-in adapter that records what
the runner asked of it (the real adapters run through it in test_tasks_*.py and the engine
tests)."""
import sys
import time

import numpy as np

from helpers import TASKS

sys.path.insert(0, TASKS)
from common import params  # noqa: E402
from measure import timer  # noqa: E402
from runtime import protocol  # noqa: E402


class Recorder(object):
    """Each call is logged; a step takes `step` seconds, so the clocks have something to time."""

    def __init__(self, step=0.002):
        self.calls, self.step = [], step

    def train_step(self, state, x, y):
        self.calls.append(("train", len(x)))
        time.sleep(self.step)
        return 1.0

    def predict(self, model, x):
        self.calls.append(("predict", len(x)))
        time.sleep(self.step)
        return np.zeros((len(x), 2048), np.float32)

    def sync(self, state):
        self.calls.append(("sync", None))

    def to_float(self, loss):
        return float(loss)


def test_inference_warms_up_with_a_full_pass_like_2017(capsys):
    p = params.for_task("inference")
    a = Recorder()
    x = np.zeros((5 * p["batch_size"], 3, 4, 4), np.float32)
    timings, features, n = protocol.infer(a, None, x, p)
    predicts = [c for c in a.calls if c[0] == "predict"]
    assert len(predicts) == 10  # 5 untimed, then 5 timed
    assert timings["warmup_steps"] == 5 and timings["batches"] == 5 and n == 160
    assert features == 2048 and timings["warmup_seconds"] >= 5 * a.step


def test_cell_time_covers_the_warm_up_step_and_the_loop(capsys):
    p = params.for_task("cnn", epochs=2)
    a = Recorder()
    data = {"x_train": np.zeros((3 * p["batch_size"], 3, 2, 2), np.float32),
            "y_train": np.zeros(3 * p["batch_size"], np.int32)}
    timings, loss = protocol.train(a, None, data, p, 0)
    steps = [c for c in a.calls if c[0] == "train"]
    assert len(steps) == 1 + 2 * 3  # the warm-up step, then 2 epochs of 3 batches
    assert timings["batches"] == 6 and timings["warmup_steps"] == 1
    assert timings["cell_seconds"] >= timings["train_seconds"] + timings["warmup_seconds"]
    assert timings["train_seconds"] >= 6 * a.step
    assert timings["cell_seconds"] >= 7 * a.step


class EpochRecorder(Recorder):
    """A task file that hands each epoch to its framework (Keras's fit): train_epoch records
    the arrays it was given."""

    def __init__(self):
        super(EpochRecorder, self).__init__()
        self.epochs = []

    def train_epoch(self, state, x, y):
        self.calls.append(("epoch", len(x)))
        self.epochs.append((x.copy(), y.copy()))
        time.sleep(self.step)
        return 0.5


def test_an_epoch_step_gets_the_epochs_shuffled_complete_batches(capsys):
    """issue 29: by_epoch hands train_epoch each epoch's complete batches in the order the
    per-minibatch loop would have fed them (the runner draws the shuffle), once an epoch; the
    warm-up is one train_epoch on the first minibatch; the clocks and counts are the loop's."""
    from runtime.batches import minibatches
    p = params.for_task("cnn", epochs=2)
    bs = p["batch_size"]
    n = 3 * bs + 5  # a tail that fills no batch: dropped, as the loop drops it
    data = {"x_train": np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1),
            "y_train": np.arange(n, dtype=np.int32)}
    a = EpochRecorder()
    timings, loss = protocol.train(a, None, data, p, 7, by_epoch=True)
    assert [c for c in a.calls if c[0] == "epoch"] == [("epoch", bs), ("epoch", 3 * bs),
                                                        ("epoch", 3 * bs)]
    assert not [c for c in a.calls if c[0] == "train"]  # no per-minibatch step
    np.testing.assert_array_equal(a.epochs[0][1], np.arange(bs))  # warm-up: the first batch
    rng = np.random.RandomState(7)
    for (x, y), _ in zip(a.epochs[1:], range(2)):
        expected = np.concatenate([yb for _, yb in minibatches(data["x_train"],
                                                                data["y_train"], bs, rng)])
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(x.reshape(-1), expected.astype(np.float32))
    assert len(set(tuple(y) for _, y in a.epochs[1:])) == 2  # reshuffled each epoch
    assert timings["batches"] == 6 and loss == 0.5
    assert timings["cell_seconds"] >= timings["train_seconds"] + timings["warmup_seconds"]


def test_the_runtime_says_which_loop_trains():
    import types
    from runtime import adapters
    both = types.SimpleNamespace(train_step=None, train_epoch=None)
    assert adapters.training_loop(both, {"name": "tensorflow"}) == "train_epoch"
    assert adapters.training_loop(both, {"name": "x", "loop": "steps"}) == "train_step"
    assert adapters.training_loop(types.SimpleNamespace(train_step=None), {}) == "train_step"
    assert adapters.training_loop(types.SimpleNamespace(predict=None), {}) is None


class AsyncDevice(object):
    """A stand-in for an asynchronous device: train_step queues `step` seconds of work on a
    worker thread and returns at once; to_float waits for that work (a host copy). With
    sync_waits=False its sync() is a no-op, as a broken adapter's would be."""

    def __init__(self, step=0.01, sync_waits=True):
        import concurrent.futures
        self.pool = concurrent.futures.ThreadPoolExecutor(1)
        self.step, self.sync_waits, self.last = step, sync_waits, None

    def train_step(self, state, x, y):
        self.last = self.pool.submit(time.sleep, self.step)
        return self.last

    def sync(self, state):
        if self.sync_waits and self.last is not None:
            self.last.result()

    def to_float(self, loss):
        loss.result()
        return 1.0


def async_train(sync_waits):
    p = params.for_task("cnn", 1)
    data = {"x_train": np.zeros((64 * 8, 3, 32, 32), np.float32),
            "y_train": np.zeros(64 * 8, np.int64)}
    timings, _ = protocol.train(AsyncDevice(sync_waits=sync_waits), {}, data, p, 0)
    return timings, protocol.clock_check(timings["unsynced_seconds"], timings["train_seconds"])


def test_a_no_op_sync_trips_the_clock_check(capsys):
    """The clock stops while 8 queued steps still run: the host copy after it waits for them,
    and the check says the clock stopped before the device finished."""
    timings, check = async_train(sync_waits=False)
    assert check["flagged"] is True and check["share"] > protocol.UNSYNCED_LIMIT
    assert check["note"] == "clock stopped before the device finished"
    assert timings["unsynced_seconds"] > 0.03  # most of 8 x 10 ms came after the clock


def test_a_real_sync_keeps_the_clock_check_down(capsys):
    timings, check = async_train(sync_waits=True)
    assert check["flagged"] is False and check["note"] is None
    assert timings["train_seconds"] >= 8 * 0.01


class _FakeClockSteps(object):
    """A DenseNet-loop adapter whose every step moves a fake clock (measure/timer.py) on by
    `seconds`: the loop's progress timing is tested without depending on the machine's load."""

    def __init__(self, seconds):
        self.seconds, self.now = seconds, 0.0

    def clock(self):
        return self.now

    def train_step(self, state, xb, yb):
        self.now += self.seconds
        return 0.5

    def sync(self, state):
        pass

    def to_float(self, loss):
        return float(loss)


def _events(capsys, kind):
    import json
    out = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in out if json.loads(line)["event"] == kind]


def test_a_long_densenet_epoch_reports_progress(capsys, monkeypatch):
    """An epoch of hours must not be silent until its end: a "progress" event comes at most
    every progress_seconds, with the batches done of the epoch's and an images/s; the host
    shows it as one line. None turns them off (the other ranks)."""
    from harness.runs import progress
    p = {"epochs": 1, "batch_size": 4, "global_batch": 8}
    loader = [(None, None)] * 8
    adapter = _FakeClockSteps(1.0)
    monkeypatch.setattr(timer, "clock", adapter.clock)
    protocol.train_loader(adapter, None, loader, p, progress_seconds=2.5)
    seen = _events(capsys, "progress")
    # the warm-up step ends at 1 s (the clock starts there); then one step a second: 3 steps
    # pass 2.5 s at 4 s, 3 more at 7 s; the 7th timed step ends the epoch before another
    assert [(e["batches"], e["seconds"]) for e in seen] == [(3, 3.0), (6, 6.0)]
    assert all(e["of"] == 8 and e["epoch"] == 1 and e["epochs"] == 1 for e in seen)
    assert all(e["images_per_second"] == 8.0 for e in seen)  # a global batch of 8 a second
    line = progress.describe_event("pytorch-2.13 densenet r1", seen[0])
    assert line.startswith("pytorch-2.13 densenet r1: epoch 1/1  3/8 batches  8.0 images/s")
    adapter.now = 0.0
    protocol.train_loader(adapter, None, loader, p, progress_seconds=None)
    assert _events(capsys, "progress") == []


def test_the_densenet_figure_beside_2017_counts_validation_once(capsys, monkeypatch):
    """A run with 2 epochs of 2 timed steps (1 s each) and 0.5 s of validation after each: the
    cell time (what 2017's %%time cell measured: train + validation) spans the validation once,
    and the figure the report sets beside 2017's is exactly it, not it plus the validation
    again (which reported 2.11 s for a 1.11 s cell)."""
    from harness.results import report
    adapter = _FakeClockSteps(1.0)
    monkeypatch.setattr(timer, "clock", adapter.clock)

    def validate(epoch):
        adapter.now += 0.5
        return 0.25
    p = {"epochs": 2, "batch_size": 4}
    timings, _, _ = protocol.train_loader(adapter, None, [(None, None)] * 3, p,
                                          validate=validate, progress_seconds=None)
    # warm-up 1 s; epoch 1: 2 timed steps; validation 0.5; epoch 2: 3 steps; validation 0.5
    assert timings["valid_seconds"] == [0.5, 0.5]
    assert timings["cell_seconds"] == 1.0 + 2.0 + 0.5 + 3.0 + 0.5
    result = {"task": "densenet", "timings": timings}
    assert report.primary_value(result) == timings["cell_seconds"] == 7.0


def test_latency_times_each_request_alone_after_an_untimed_one(capsys):
    """--latency: per batch size one untimed request, then `requests` requests, each waited for
    (sync) inside its own clock; consecutive slices of the images, wrapping round."""
    a = Recorder(step=0.003)
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1)
    seen = []
    predict = a.predict
    a.predict = lambda model, xb: seen.append(xb[:, 0, 0, 0].tolist()) or predict(model, xb)
    out = protocol.latency(a, None, x, batch_sizes=(1, 8), requests=4)
    assert sorted(out) == ["1", "8"]
    assert [len(b) for b in seen] == [1] * 5 + [8] * 5  # one untimed request each, then 4
    assert seen[6:] == [list(range(0, 8)), list(range(8, 16)), list(range(0, 8)),
                        list(range(8, 16))]  # 20 images hold two batches of 8: wrap round
    assert [c[0] for c in a.calls[:4]] == ["predict", "sync", "predict", "sync"]
    for bs, s in ((1, out["1"]), (8, out["8"])):
        assert s["batch_size"] == bs and s["requests"] == 4
        assert s["min_ms"] >= a.step * 1000 * 0.9  # each request's own predict time
        assert s["min_ms"] <= s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
        assert abs(s["images_per_second"] - bs * 1000.0 / s["mean_ms"]) < 1e-6 * bs * 1000


def test_latency_summary_percentiles():
    s = protocol.latency_summary([0.010, 0.020, 0.030, 0.040, 0.100], 1)
    assert s["p50_ms"] == 30.0 and s["min_ms"] == 10.0 and s["max_ms"] == 100.0
    assert abs(s["p90_ms"] - 76.0) < 1e-9  # numpy's linear interpolation
    assert abs(s["mean_ms"] - 40.0) < 1e-9 and s["requests"] == 5


def test_latency_refuses_a_batch_larger_than_the_images():
    import pytest
    with pytest.raises(ValueError, match="--limit"):
        protocol.latency(Recorder(), None, np.zeros((4, 1, 1, 1), np.float32), (8,), 2)
