"""harness/containers/signals.py: SIGINT, SIGTERM and SIGHUP each stop a bench as Ctrl-C does (Stopped, a
KeyboardInterrupt, with the signal's reason and exit status), an inherited ignored signal stays
ignored, a deferred step finishes before a signal acts, a cleanup is not cut short, and helper
threads leave the signals to the main thread."""
import os
import signal
import threading
import time

import pytest

from helpers import HANG_S
from harness.containers import signals

pytestmark = pytest.mark.usefixtures("terminal_signals")


def send(sig):
    """Deliver sig to this process and give the handler its chance to run (it runs in the main
    thread at the next bytecode; sleep is interrupted by it)."""
    os.kill(os.getpid(), sig)
    time.sleep(0.05)


@pytest.mark.parametrize("sig,reason,status", [
    (signal.SIGINT, "interrupted (Ctrl-C)", 130),
    (signal.SIGTERM, "terminated (SIGTERM)", 143),
    (signal.SIGHUP, "terminated (SIGHUP)", 129),
])
def test_each_stop_signal_raises_stopped_with_its_reason(sig, reason, status):
    before = signal.getsignal(sig)
    with signals.handled():
        with pytest.raises(KeyboardInterrupt) as caught:
            send(sig)
            time.sleep(5)  # never reached: the handler raises in this sleep
    assert isinstance(caught.value, signals.Stopped)
    assert signals.signum_of(caught.value) == sig
    assert signals.reason(sig) == reason and signals.exit_status(sig) == status
    assert signal.getsignal(sig) is before  # handlers restored


def test_python_s_own_ctrl_c_counts_as_sigint():
    assert signals.signum_of(KeyboardInterrupt()) == signal.SIGINT


def test_an_ignored_signal_stays_ignored():
    """nohup's SIGHUP, or SIGINT of a background job a non-interactive shell started: dlbench
    leaves them ignored (as Python does with an inherited ignored SIGINT)."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals.handled():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            send(signal.SIGINT)  # nothing happens
            with signals.deferred():
                assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)


def test_deferred_holds_a_signal_until_the_step_ends():
    steps = []
    with signals.handled():
        with pytest.raises(signals.Stopped) as caught:
            with signals.deferred():
                send(signal.SIGTERM)
                steps.append("after the signal")
                with signals.deferred():  # nested: acts at the outermost end only
                    send(signal.SIGHUP)
                steps.append("end of the step")
            steps.append("never")
    assert steps == ["after the signal", "end of the step"]
    assert caught.value.signum == signal.SIGTERM  # the first one held


def test_deferred_without_handled_acts_as_python_would():
    """Outside a bench (no handled()) a held Ctrl-C becomes Python's KeyboardInterrupt at the
    end of the step, and the SIGINT handler is Python's again afterwards."""
    before = signal.getsignal(signal.SIGINT)
    assert before is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt) as caught:
        with signals.deferred():
            send(signal.SIGINT)
            done = True
    assert done and not isinstance(caught.value, signals.Stopped)
    assert signal.getsignal(signal.SIGINT) is before


def test_held_drops_signals_during_a_cleanup():
    with signals.handled():
        with signals.held():
            send(signal.SIGINT)
            send(signal.SIGTERM)
            cleaned = True
        time.sleep(0.05)  # nothing pending either
    assert cleaned


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_threads_started_inside_blocked_leave_the_signals_to_the_main_thread():
    seen, release = {}, threading.Event()

    def body():
        with open("/proc/self/task/%d/status" % threading.get_native_id()) as f:
            line = [l for l in f.read().splitlines() if l.startswith("SigBlk:")][0]
        seen["blocked"] = int(line.split()[1], 16)
        release.wait(HANG_S)

    with signals.blocked():
        t = threading.Thread(target=body, daemon=True)
        t.start()
    while "blocked" not in seen:
        time.sleep(0.01)
    release.set()
    t.join(HANG_S)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        assert seen["blocked"] & (1 << (sig - 1)), hex(seen["blocked"])
    # and the main thread is unblocked again
    assert not signal.pthread_sigmask(signal.SIG_BLOCK, []) & set(signals.HANDLED)


def test_a_signal_that_came_while_blocked_is_not_lost():
    """Sent while the main thread blocks it: another thread may take it (Python then runs the
    handler in the main thread at once), else it waits until the block ends; never lost."""
    with signals.handled():
        with pytest.raises(signals.Stopped):
            with signals.blocked():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
            time.sleep(5)  # not reached
