"""The signals that stop `dlbench bench`: SIGINT (Ctrl-C), SIGTERM (kill, timeout(1), a CI
cancel, systemd) and SIGHUP (the terminal closed). Each stops a bench the same way: the running
container is killed and removed, its result is written failed with the reason ("interrupted
(Ctrl-C)", "terminated (SIGTERM)", "terminated (SIGHUP)"), and dlbench exits with 128 + the
signal's number (130, 143, 129).

Python on its own turns only SIGINT into an exception (KeyboardInterrupt); SIGTERM and SIGHUP
end the process on the spot, leaving its container running and no result. `handled()` installs
one handler for all three that raises Stopped (a KeyboardInterrupt, so every `except
KeyboardInterrupt` cleanup runs for each of them) in the main thread.

A signal that was ignored when dlbench started stays ignored: nohup's SIGHUP, and SIGINT of a
job a non-interactive shell started in the background (`dlbench bench ... &` in a script, or a
CI runner started that way), which the shell ignores so that Ctrl-C on the terminal spares it.
Python leaves such an inherited SIGINT ignored too (it installs its KeyboardInterrupt handler
only over the default action); SIGTERM stops such a run.

Python runs a signal's handler in the main thread only, at its next bytecode; a signal the kernel
hands to another thread wakes nothing while the main thread sits in a system call. So threads
are started with these signals blocked (`blocked()`, and containers.LogFollower blocks them in
itself): the kernel then always delivers them to the main thread, and the call it is blocked in
(the engine's wait, a socket read) returns at once with EINTR.

Some steps must not be cut in two: the engine making a container and the host tracking it (else
an untracked container outlives the stop), and writing a finished run's result (else a completed
measurement becomes "interrupted", or its result.json is left without the host's provenance).
`deferred()` holds a signal that arrives inside such a step and acts on it at the step's end;
`held()` drops the signals that arrive during the cleanup after a stop (a second Ctrl-C must
not cut the first one's cleanup short)."""
import signal
import threading

HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))

_REASONS = {"SIGINT": "interrupted (Ctrl-C)"}


def name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


def reason(signum):
    """The failed result's reason for a run stopped by this signal."""
    n = name(signum)
    return _REASONS.get(n, "terminated (%s)" % n)


def exit_status(signum):
    """dlbench's exit status after a stop by this signal: 128 + its number, as a shell reports
    a process the signal ended."""
    return 128 + int(signum)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived (a KeyboardInterrupt, so Ctrl-C's cleanups run for all of them)."""

    def __init__(self, signum):
        KeyboardInterrupt.__init__(self, reason(signum))
        self.signum = signum


def signum_of(exc):
    """The signal behind a KeyboardInterrupt: Stopped's, else SIGINT (Python's own Ctrl-C)."""
    return getattr(exc, "signum", signal.SIGINT)


# Process-wide state (signal dispositions are process-wide): how many deferred() and held()
# sections are open in the main thread, and the first signal a deferred() section holds.
_state = {"defer": 0, "drop": 0, "pending": None}


def _handler(signum, frame):
    if _state["drop"]:
        return
    if _state["defer"]:
        if _state["pending"] is None:
            _state["pending"] = signum
        return
    raise Stopped(signum)


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


def _install():
    """Our handler for every HANDLED signal not ignored now; returns {signal: previous}."""
    old = {}
    if not _in_main_thread():
        return old
    for sig in HANDLED:
        previous = signal.getsignal(sig)
        if previous == signal.SIG_IGN or previous is _handler:
            continue
        old[sig] = previous
        signal.signal(sig, _handler)
    return old


def _restore(old):
    for sig, previous in old.items():
        signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


class handled(object):
    """While active, SIGINT, SIGTERM and SIGHUP raise Stopped in the main thread (a signal that
    is ignored when it is entered stays ignored). Restores the previous handlers on exit."""

    def __enter__(self):
        self.old = _install()
        return self

    def __exit__(self, *exc):
        _restore(self.old)
        return False


class deferred(object):
    """A step that must not be cut in two: a stop signal that arrives inside is held and acts
    when the outermost deferred() ends (with the handlers in force outside it: Stopped under
    handled(), Python's KeyboardInterrupt for SIGINT, the default action otherwise). Works
    without handled() too. In a thread other than the main one it does nothing (signals are
    handled in the main thread only)."""

    def __enter__(self):
        self.main = _in_main_thread()
        if self.main:
            self.old = _install()
            _state["defer"] += 1
        return self

    def __exit__(self, *exc):
        if not self.main:
            return False
        _state["defer"] -= 1
        pending = None
        if _state["defer"] == 0:
            pending, _state["pending"] = _state["pending"], None
        _restore(self.old)
        if pending is not None:
            if signal.getsignal(pending) is _handler:
                raise Stopped(pending)
            signal.raise_signal(pending)  # as it would have acted without this section
        return False


class held(object):
    """The cleanup after a stop: stop signals that arrive inside are dropped (a second Ctrl-C
    must not cut the first one's cleanup short; the process is stopping anyway)."""

    def __enter__(self):
        self.main = _in_main_thread()
        if self.main:
            self.old = _install()
            _state["drop"] += 1
        return self

    def __exit__(self, *exc):
        if self.main:
            _state["drop"] -= 1
            _restore(self.old)
        return False


class blocked(object):
    """The stop signals blocked in the calling thread while inside: a thread started inside
    inherits the block, so the kernel delivers them to the main thread only. Signals that came
    meanwhile are delivered (and acted on) when the block ends."""

    def __enter__(self):
        self.old = None
        if hasattr(signal, "pthread_sigmask"):
            self.old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)
        return False


def block_in_this_thread():
    """For a helper thread's run(): leave the stop signals to the main thread."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
