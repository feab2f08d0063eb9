"""The one way dlbench starts a container: hardened (hardening.py), labelled with the dlbench
process that owns it (ownership.py) and what it is for, tracked from the moment the engine makes
it, and removed when it ends, fails, times out or a stop signal arrives. A dlbench killed too
hard to clean up (SIGKILL) leaves a container its next run's orphan sweep recognises
(harness/runs/orphans.py).

Two ways in:
* Tracked(create_args, tracker): a context manager around one container, for a caller that
  follows it itself (`dlbench bench`'s runs: harness/runs/container_run.py);
* run(...): a one-shot command to its end, with its output (check-models, data prepare,
  provenance's pip freeze).
"""
import os
import uuid

from . import containers, engine, hardening, ownership, signals


class Tracked(object):
    """with Tracked(create_args, tracker) as t: t.container is made (the engine's create call)
    and tracked before a stop signal can act; on leaving, it is removed and untracked, whatever
    happened. create_args: the SDK's containers.create keyword arguments; the owner labels are
    added here unless they are there already (bench.Run.create_args: orphans.owner_labels)."""

    def __init__(self, create_args, tracker=None, purpose=None):
        self.args = dict(create_args)
        labels = dict(self.args.get("labels") or {})
        if ownership.PID_LABEL not in labels:  # a bench run's come with its run's labels
            labels.update(ownership.Identity.this_process().labels())
        if purpose:
            labels[ownership.ONESHOT_LABEL] = purpose
        self.args["labels"] = labels
        self.tracker = tracker if tracker is not None else containers.Tracker()
        self.container = None

    def create(self):
        """Make the container (not started) and track it; returns it."""
        with signals.deferred():  # the container the engine makes is tracked before a stop acts
            self.container = engine.client().containers.create(**self.args)
            self.tracker.add(self.container)
        return self.container

    def __enter__(self):
        self.create()
        return self

    def __exit__(self, *exc):
        if self.container is not None:
            self.tracker.remove(self.container)
        return False


class Outcome(object):
    """How a one-shot container ended: exit_code (None: it never ran to its end), its output
    (stdout and stderr, or stdout only) and problem (one line: timed out, could not run);
    refused: the engine's own words when it would not run the container (else None)."""

    def __init__(self, exit_code, output, problem, refused=None):
        self.exit_code, self.output, self.problem = exit_code, output, problem
        self.refused = refused

    @property
    def ok(self):
        return self.problem is None and self.exit_code == 0


def run(image, command, purpose, volumes=None, environment=None, writable=(), timeout=3600,
        name=None, labels=None, on_line=None, stderr=True, log_path=None, writable_trees=(),
        shared=()):
    """Run command in image (a tag or an image id) to its end in one hardened, owner-labelled
    container; returns an Outcome (never raises for the engine's refusals: the Outcome's problem
    says it). volumes: {host path: {"bind": ..., "mode": ...}}; writable: the host folders among
    them the container writes (handed to the container's uid for the run, back to the caller's
    after); writable_trees: such folders handed over with everything already in them (the
    container resumes an earlier run's work); shared: folders the container writes that other
    containers write too (a test run's compile cache, harness/containers/testrun.py): handed
    over, never given back, so the next container, under the same uid, can write in them; on_line(text): each output line as it comes (the output is followed live); stderr:
    False keeps stdout only; log_path: the output is also saved there. A stop signal
    (KeyboardInterrupt) kills and removes the container, then propagates."""
    args = hardening.settings(environment=environment)
    args.update(image=image, command=list(command), detach=True, volumes=dict(volumes or {}),
                name=name or "dlbench-%s-%s" % (purpose, uuid.uuid4().hex[:8]),
                labels=dict(labels or {}))
    for folder in writable:
        hardening.prepare_results_dir(folder, args["user"])
    for folder in writable_trees:
        hardening.prepare_results_dir(folder, args["user"], tree=True)
    for folder in shared:
        hardening.prepare_results_dir(folder, args["user"])
    code, output, problem, refused = None, b"", None, None
    try:
        with Tracked(args, purpose=purpose) as t:
            t.container.start()
            if on_line is not None:
                output = _follow(t.container, on_line)
            code = containers.wait_exit(t.container, timeout)
            if code is None:
                containers.kill(t.container)
                problem = "timed out after %d s" % timeout
            if on_line is None or not stderr:
                output = t.container.logs(stdout=True, stderr=stderr)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # the engine refused it (no such image, no python3 in it, ...)
        refused = engine.short_error(e)
        problem = "could not run the container: %s" % refused
    finally:
        for folder in list(writable) + list(writable_trees):
            hardening.reclaim_results_dir(folder)
    text = output.decode("utf-8", "replace")
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        with open(log_path, "w") as f:
            f.write(text)
    return Outcome(code, text, problem, refused)


def _follow(container, on_line):
    """The container's whole output, each line handed to on_line as it comes."""
    seen, buf = [], b""
    for chunk in container.logs(stream=True, follow=True):
        seen.append(chunk)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            on_line(line.decode("utf-8", "replace"))
    if buf:
        on_line(buf.decode("utf-8", "replace"))
    return b"".join(seen)
