"""harness/containers/containers.py with a stand-in container (tests/helpers/fakes.py): waiting in slices, kill,
exit code and run time by the engine, the tracker, the log-following thread (SIGINT blocked,
so Ctrl-C reaches the main thread), and the progress lines of harness/runs/progress.py."""
import json
import os
import signal
import threading

import pytest

from helpers import HANG_S
from helpers.fakes import FakeContainer, ReadTimeout
from harness.containers import containers
from harness.runs import progress


class SlowWait(FakeContainer):
    """Each wait slice times out `slices` times, then the container exits."""

    def __init__(self, slices, error=ReadTimeout("Read timed out. (read timeout=10)")):
        FakeContainer.__init__(self, exit_code=4)
        self.slices, self.error = slices, error

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if len(self.waits) <= self.slices:
            raise self.error
        return {"StatusCode": self.code}


def test_wait_exit_goes_on_through_slices_that_time_out():
    c = SlowWait(2)
    assert containers.wait_exit(c, 3600) == 4
    assert len(c.waits) == 3 and all(t == containers.WAIT_SLICE for t in c.waits)


def test_wait_exit_none_when_the_timeout_passes():
    c = FakeContainer(hang=True)
    assert containers.wait_exit(c, 0.3) is None
    assert all(t <= 0.3 for t in c.waits)


def test_wait_exit_raises_what_is_not_a_timeout():
    with pytest.raises(ConnectionError):
        containers.wait_exit(SlowWait(1, error=ConnectionError("Connection refused")), 60)


def test_kill_exit_code_and_seconds_run():
    c = FakeContainer(hang=True)
    containers.kill(c)
    assert c.killed and containers.exit_code(c) == 137
    assert containers.seconds_run(c) == 2.5

    class Gone(FakeContainer):
        def kill(self):
            raise RuntimeError("409 Conflict: container is not running")

        def reload(self):
            raise RuntimeError("404 Not Found")

    gone = Gone()
    containers.kill(gone)  # never raises
    assert containers.exit_code(gone) is None and containers.seconds_run(gone) is None


def test_tracker_removes_everything_even_when_a_remove_fails():
    class Stuck(FakeContainer):
        def remove(self, force=False):
            self.removed = True  # the engine is removing it: gone once that ends
            raise RuntimeError("removal already in progress")

    a, b = FakeContainer(), Stuck()
    tracker = containers.Tracker()
    tracker.add(a)
    tracker.add(b)
    tracker.remove_all()
    assert a.removed and tracker.containers == []


def test_a_removal_is_waited_for_until_the_engine_no_longer_lists_it():
    """A loaded engine can answer a removal before it is done; dlbench waits (bounded) until
    the container is gone, so nothing it removed is still listed when it exits."""
    class Slow(FakeContainer):
        def __init__(self):
            FakeContainer.__init__(self)
            self.reloads = 0

        def reload(self):
            self.reloads += 1
            if self.reloads < 3:
                return  # still listed, being removed
            raise RuntimeError("404 no such container")

    c = Slow()
    containers.remove_quietly(c, wait_s=HANG_S)
    assert c.removed and c.reloads == 3
    refused = Slow()
    refused.remove = lambda force=False: (_ for _ in ()).throw(RuntimeError("engine says no"))
    containers.remove_quietly(refused, wait_s=HANG_S)
    assert refused.reloads == 0  # refused: nothing to wait for


def test_wait_exit_calls_between_slices_and_survives_its_errors():
    calls = []

    def between():
        calls.append(1)
        raise RuntimeError("a sample that failed")

    assert containers.wait_exit(SlowWait(3), 3600, between) == 4
    assert len(calls) == 3


def test_wait_slices_are_short():
    """A stop signal interrupts the wait at once; the slice bounds the delay should the kernel
    ever hand it to another thread."""
    assert containers.WAIT_SLICE <= 2


def test_log_follower_keeps_saving_when_the_display_fails(tmp_path):
    """After SIGHUP the terminal is gone and echo raises: the log and events are still saved."""
    output = b'{"event": "start"}\nline\n{"event": "end"}\n'

    def display(ev):
        raise OSError(5, "Input/output error")

    out = containers.LogFollower(FakeContainer(output), str(tmp_path / "log"),
                                 str(tmp_path / "events"), display)
    out.start()
    out.join(HANG_S)
    assert (tmp_path / "log").read_bytes() == output
    assert len((tmp_path / "events").read_text().splitlines()) == 2


def test_log_follower_saves_output_and_events(tmp_path):
    lines = [json.dumps({"event": "start", "device": "cpu"}), "plain line\r", "{not json",
             json.dumps([1, 2]), json.dumps({"no": "event"}), "",
             json.dumps({"event": "end", "status": "ok"})]
    output = ("\n".join(lines)).encode()  # the last line has no newline
    got = []
    out = containers.LogFollower(FakeContainer(output), str(tmp_path / "log"),
                                 str(tmp_path / "events"), got.append)
    out.start()
    out.join(HANG_S)
    assert (tmp_path / "log").read_bytes() == output
    assert [e["event"] for e in got] == ["start", "end"]
    assert (tmp_path / "events").read_text().splitlines() == [lines[0], lines[-1]]
    assert out.last_lines == [l.rstrip("\r") for l in lines if l]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_log_follower_blocks_the_stop_signals(tmp_path):
    """SIGINT, SIGTERM and SIGHUP blocked in the thread that follows the log, so the kernel hands
    them to the main thread (harness/containers/signals.py)."""
    inside, release = threading.Event(), threading.Event()

    class Streaming(FakeContainer):
        def logs(self, stream=False, follow=False):
            yield b"up\n"
            inside.set()
            release.wait(HANG_S)

    out = containers.LogFollower(Streaming(), str(tmp_path / "log"), str(tmp_path / "events"),
                                 lambda ev: None)
    out.start()
    try:
        assert inside.wait(HANG_S)
        with open("/proc/self/task/%d/status" % out.native_id) as f:
            status = f.read()
        blocked = [l for l in status.splitlines() if l.startswith("SigBlk:")][0].split()[1]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            assert int(blocked, 16) & (1 << (sig - 1)), status
    finally:
        release.set()
        out.join(HANG_S)
    assert not out.is_alive() and out.last_lines == ["up"]


@pytest.mark.parametrize("ev,line", [
    ({"event": "start", "framework": "pytorch", "framework_version": "2.13.0", "device": "cpu"},
     "L: started (pytorch 2.13.0, cpu)"),
    ({"event": "epoch", "epoch": 2, "epochs": 10, "loss": 1.23456, "seconds": 12.34},
     "L: epoch 2/10  loss 1.2346  12.3 s"),
    ({"event": "epoch", "epoch": 1, "epochs": 1}, "L: epoch 1/1  loss -  0.0 s"),
    ({"event": "batch", "batches": 40, "images_per_second": 321.04},
     "L: 40 batches, 321.0 images/s"),
    ({"event": "end", "status": "ok"}, "L: ok"),
    ({"event": "end", "status": "failed", "reason": "boom"}, "L: failed (boom)"),
    ({"event": "other", "x": 1}, 'L: {"event": "other", "x": 1}'),
])
def test_describe_event(ev, line):
    assert progress.describe_event("L", ev) == line
