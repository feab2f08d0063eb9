"""The lifecycle of the containers `dlbench bench` starts, whatever runs in them: the containers
this process started (so a stop signal or an error removes them all), the thread that follows a
container's output (with the stop signals blocked, so they reach the main thread: see
harness/containers/signals.py), waiting for its end in short slices, killing it, and its exit code and run
time by the engine's clock.

A container here is a Docker SDK container object; only its wait, reload, attrs, kill, logs and
remove are used."""
import datetime
import json
import threading
import time

from . import signals


REMOVE_WAIT_S = 30  # at most this long for the engine to finish a removal it accepted


def remove_quietly(c, wait_s=REMOVE_WAIT_S):
    """Remove container c, running or not, and wait (wait_s at most) until the engine no longer
    lists it: a loaded engine can answer the removal before it is done, and a dlbench that then
    exits would leave it listed. One already gone (or an engine that refuses) is no error here:
    the callers are cleaning up after the run's outcome is known."""
    try:
        c.remove(force=True)
    except Exception as e:
        if "in progress" not in str(e):  # refused, or gone already: nothing to wait for
            return
    deadline = time.time() + wait_s
    while time.time() < deadline:
        try:
            c.reload()
        except Exception:  # docker.errors.NotFound: gone (or no engine to ask: nothing to wait)
            return
        time.sleep(0.1)


class Tracker(object):
    """The containers this process started, so Ctrl-C or an error removes them all."""

    def __init__(self):
        self.containers = []

    def add(self, c):
        self.containers.append(c)

    def remove(self, c):
        remove_quietly(c)
        if c in self.containers:
            self.containers.remove(c)

    def remove_all(self):
        for c in list(self.containers):
            self.remove(c)


class LogFollower(threading.Thread):
    """Follows a container's output: saves it to log_path, writes its progress events (JSON
    objects with an "event" key, one a line) to events_path and hands each to on_event(event),
    and keeps the last 20 non-empty lines (last_lines) for the reason of a run that wrote no
    result."""

    def __init__(self, container, log_path, events_path, on_event):
        threading.Thread.__init__(self, daemon=True)
        self.container, self.log_path, self.events_path = container, log_path, events_path
        self.on_event = on_event
        self.last_lines = []

    def run(self):
        # The stop signals must reach the main thread: one the kernel hands to this thread
        # leaves the main thread blocked in the engine's wait call until its slice ends. (Start
        # the thread inside signals.blocked() to close the moment before this line as well.)
        signals.block_in_this_thread()
        with open(self.log_path, "wb") as log, open(self.events_path, "w") as events:
            buf = b""
            try:
                for chunk in self.container.logs(stream=True, follow=True):
                    log.write(chunk)
                    log.flush()
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        self._line(line.decode("utf-8", "replace"), events)
            except Exception:  # the container went away under us: the log is what we have
                pass
            if buf:
                self._line(buf.decode("utf-8", "replace"), events)

    def _line(self, text, events):
        text = text.rstrip("\r")
        if text.strip():
            self.last_lines = (self.last_lines + [text])[-20:]
        if text.startswith("{"):
            try:
                ev = json.loads(text)
            except ValueError:
                return
            if isinstance(ev, dict) and "event" in ev:
                events.write(text + "\n")
                events.flush()
                try:
                    self.on_event(ev)
                except Exception:  # e.g. the terminal went away (SIGHUP): keep saving the log
                    pass


# Seconds per engine wait call. A stop signal interrupts the call at once (it is delivered to
# the main thread, which waits here); the slice bounds the delay should it ever land elsewhere,
# and paces between_slices (the contention samples). One small HTTP call each: cheap.
WAIT_SLICE = 2


def wait_exit(container, timeout, between_slices=None):
    """Exit code, or None when the timeout passed first. between_slices(): called after each
    slice that ended without the container's exit (never raises into the wait)."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        try:
            return container.wait(timeout=min(left, WAIT_SLICE))["StatusCode"]
        except Exception as e:  # requests' ReadTimeout / ConnectionError on a slow wait
            if "timed out" not in str(e).lower() and "timeout" not in type(e).__name__.lower():
                raise
        if between_slices is not None:
            try:
                between_slices()
            except Exception:
                pass


def kill(container):
    """Kill it and wait (30 s at most) until it is gone; never raises."""
    try:
        container.kill()
    except Exception:
        pass
    try:
        container.wait(timeout=30)
    except Exception:
        pass


def exit_code(container):
    """Its exit code by the engine, or None when the engine cannot say."""
    try:
        container.reload()
        return container.attrs["State"]["ExitCode"]
    except Exception:
        return None


def seconds_run(container):
    """How long the container's process ran, by the engine's clock (StartedAt..FinishedAt);
    None when the engine cannot say."""
    def parse(stamp):
        stamp = stamp.rstrip("Z")
        head, _, frac = stamp.partition(".")
        t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
        return t + datetime.timedelta(microseconds=int((frac + "000000")[:6] or 0))

    try:
        container.reload()
        state = container.attrs["State"]
        return round((parse(state["FinishedAt"]) - parse(state["StartedAt"])).total_seconds(), 3)
    except Exception:
        return None
