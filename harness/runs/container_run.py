"""One run's container from start to written result.json: the code that must never lose a result.

run_container makes the run's container (tracked before anything can interrupt), starts it,
follows its output, waits for its end (killing it at the timeout) and collects what it wrote.
Whatever happens (the start fails, no result file, a truncated one, JSON that is not an object, a
result that breaks the schema, a timeout or out-of-memory kill after the container wrote an ok
result, a non-zero exit after an ok result, an engine error, Ctrl-C, SIGTERM or SIGHUP),
result.json is written, failed with its reason when the run did not succeed, and a broken file
the container wrote is kept beside it as result.json.invalid. A container is never left behind:
a stop signal kills and removes it, and one that outlives a killed dlbench is found and collected
by the next `bench` or `results` (harness/runs/orphans.py, from the labels bench.Run.create_args
adds). While it runs, harness/runs/contention.py watches whether other work shares the CPU.

`run` is a bench.Run: its task, image, variant, device, source, opts, prov, repeat, label,
dir, result_path, log_path, events_path and create_args()."""
import os
import time

from ..containers import containers, engine, hardening, oneshot, signals
from . import contention, progress
from ..results import mfu, results
from ..core.errors import HarnessError


def _engine_message(e):
    """What the engine said about a failed call (an APIError's explanation: e.g. "failed to
    create task for container: ... exec: "python3": executable file not found in $PATH"), one
    line of 300 characters at most."""
    text = getattr(e, "explanation", None)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or not text.strip():
        return engine.short_error(e)
    return " ".join(text.split())[:300]


def run_container(run, tracker, echo):
    """Run one container to its end and collect its result; returns the result written.
    A stop signal (Ctrl-C, SIGTERM, SIGHUP: a KeyboardInterrupt, see harness/containers/signals.py) while
    the container runs kills and removes it, writes a failed result with the signal's reason,
    and re-raises; one that arrives once the container has ended waits until its result is
    written (a finished measurement is never thrown away)."""
    os.makedirs(run.dir, exist_ok=True)
    started, t0 = results.now_iso(), time.time()
    reason, exit_code, out, seen = None, None, None, None
    container, ended, made = None, False, None
    try:
        made = oneshot.Tracked(run.create_args(), tracker)
        container = made.create()
        try:
            container.start()
        except Exception as e:  # e.g. its command cannot be found: it never ran
            reason = "could not start the container: %s" % _engine_message(e)
        else:
            with signals.blocked():  # the output thread is born with the stop signals blocked
                out = containers.LogFollower(
                    container, run.log_path, run.events_path,
                    lambda ev: echo("  " + progress.describe_event(run.label, ev)))
                out.start()
            watch = contention.Watch(container, engine.client())
            watch.begin()
            exit_code = containers.wait_exit(container, run.opts.timeout, watch.sample)
            ended = True
            seen = watch.end()
    except KeyboardInterrupt as stop:
        if container is None and made is not None:  # the stop came as the engine made it
            container = made.container
        stopped(run, container, tracker, out, signals.signum_of(stop), started, t0)
        raise
    except HarnessError:
        raise
    except Exception as e:
        reason = "could not run the container: %s" % _engine_message(e)
    with signals.deferred():  # the run has ended: its result is written whole, then a stop acts
        if ended:
            exit_code, reason = end_state(run, container, exit_code, reason)
        if out is not None:
            out.join(30)
        result = gather(run, exit_code, reason, started,
                        out.last_lines[-1] if out is not None and out.last_lines else None)
        inside = None
        if container is not None:
            inside = containers.seconds_run(container) if out is not None else None
            tracker.remove(container)
        result = record(run, result, time.time() - t0, inside, seen)
        if result.get("status") == "ok" and seen and seen.get("flagged"):
            try:
                echo("  " + contention.warning(run.label, seen), err=True)
            except OSError:  # no terminal any more
                pass
        return result


def stopped(run, container, tracker, out, sig, started, t0):
    """A stop signal while the container ran: kill and remove it, write the failed result with
    the signal's reason (the caller re-raises)."""
    with signals.held():
        if container is not None:
            containers.kill(container)
            tracker.remove(container)
        if out is not None and out.ident is not None:
            out.join(5)
        result = failed_result(run, signals.reason(sig), signals.exit_status(sig), started)
        record(run, result, time.time() - t0)


def end_state(run, container, exit_code, reason):
    """(exit code, reason) once the wait ended: a timeout kills the container; the engine says
    whether the memory limit killed it."""
    if exit_code is None:
        containers.kill(container)
        return (containers.exit_code(container),
                "timed out after %d s (--timeout): container killed" % run.opts.timeout)
    try:
        container.reload()
        if container.attrs.get("State", {}).get("OOMKilled"):
            reason = "killed: out of memory (memory limit %s)" % (run.opts.memory or "host")
    except Exception as e:
        reason = "could not run the container: %s" % _engine_message(e)
    return exit_code, reason


def failed_result(run, reason, exit_code, started):
    """The failed result of this run (schema-conforming), with its reason and exit code."""
    return results.failed_result(run.task, run.adapter, run.variant, run.device,
                                 run.source, reason, exit_code, started, image=run.image.name)


def gather(run, exit_code, reason, started, last_line=None):
    """The result the container wrote at run.result_path, or a failed one in its place.
    reason: why the host stopped the run (timeout, out of memory), or None; it wins over an ok
    result. last_line: the container's last line of output, for the reason when it wrote none.
    A file that is not a JSON object is moved to result.json.invalid."""
    def failed(why):
        return failed_result(run, why, exit_code, started)

    if not os.path.isfile(run.result_path):
        if reason is None:
            reason = "container exited with code %s without writing a result: %s" % (
                exit_code, (last_line or "no output")[:200])
        return failed(reason)
    try:
        result = results.read_upgraded(run.result_path)
    except (OSError, ValueError) as e:  # not JSON, not an object, an unknown schema version
        os.replace(run.result_path, run.result_path + ".invalid")
        return failed(reason or "unreadable result.json (kept as result.json.invalid): %s" % e)
    if reason is not None:  # killed after writing (timeout, OOM): the kill wins
        result.update(status="failed", reason=reason)
    if exit_code not in (0, None) and result.get("status") == "ok":
        result.update(status="failed",
                      reason="container exited with code %s after an ok result" % exit_code)
    result["exit_code"] = exit_code if exit_code is not None else result.get("exit_code")
    return result


def record(run, result, wall, container_seconds=None, contention_seen=None):
    """Validate, add provenance, write run.result_path; returns what was written. A result that
    breaks the schema is replaced by a failed one (the container's file is kept beside it as
    result.json.invalid). contention_seen: harness/runs/contention.py's record of the run, kept as
    provenance.contention."""
    hardening.reclaim_results_dir(run.dir)  # the container is done: its folder is ours again
    try:
        mfu.complete(result)  # MFU against the GPU's nominal peak (harness/results/data/gpu_peaks.json)
    except (TypeError, ValueError, AttributeError):
        pass  # a malformed mfu field: the schema check below says so
    problems = results.validate(result)
    if problems:
        if os.path.isfile(run.result_path):
            os.replace(run.result_path, run.result_path + ".invalid")
        why = "result does not match the schema (kept as result.json.invalid): %s" % problems[0]
        if result.get("status") == "failed" and isinstance(result.get("reason"), str):
            why = "%s; %s" % (result["reason"], why)  # a kill's reason is never lost
        result = failed_result(
            run, why,
            result.get("exit_code") if isinstance(result.get("exit_code"), int) else None,
            result.get("started") if isinstance(result.get("started"), str) else None)
    prov = dict(run.prov)
    prov.update(repeat=run.repeat, run_id=run.opts.run_id, host_wall_seconds=round(wall, 3),
                container_seconds=container_seconds,
                log=os.path.relpath(run.log_path, run.opts.results_root))
    if contention_seen is not None:
        prov["contention"] = contention_seen
    results.add_provenance(result, prov)
    problems = results.validate(result)
    if problems:  # a harness bug; still keep the result
        result["provenance_problems"] = problems
    results.write(result, run.result_path)
    return result
