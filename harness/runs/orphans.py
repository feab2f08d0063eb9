"""Run containers whose dlbench died: found, stopped, removed, and their runs given a result.

`dlbench bench` labels every run container with the process that runs it (owner_labels): the
host's name, the process id and its start time (with the host's boot id and the process id
namespace, so a reused pid is not taken for the dead one), the run's result folder, and what a
failed result needs (task, adapter, variant, device, data source, repeat). A dlbench killed by
SIGKILL (or the OOM killer, a power cut of its terminal's machine...) cannot remove its container
or write a result: the container runs on and may even write its own "ok" result without the
host's provenance (which `dlbench results` and `dlbench report` do not count as a measurement).

sweep() finds those containers: `bench` calls it before it starts anything, `results` before it
lists. For each container of a run whose process is no longer alive on this host it prints one
line, kills the container if it still runs, saves its whole output to the run's container.log,
writes a failed result ("host died: dlbench (pid N) ended without collecting this run") into the
run's folder (a result the container wrote itself is kept beside it as
result.json.uncollected), and removes the container. A container whose process is alive (another
bench running at the same time), started on another host or in another pid namespace, or
started by a dlbench that did not label it, is never touched."""
import os

from ..core import catalog
from ..containers.ownership import DEAD, ONESHOT_LABEL, PID_LABEL, Identity, owner_state
from ..results import results

DIR_LABEL = catalog.label_key("result-dir")         # the run's folder (result.json goes here)
ROOT_LABEL = catalog.label_key("results-root")      # the results root (provenance's log path)
ADAPTER_LABEL = catalog.label_key("adapter")        # the run's adapter, one of the image's
VARIANT_LABEL = catalog.label_key("variant")
DEVICE_LABEL = catalog.label_key("device")
SOURCE_LABEL = catalog.label_key("source")
REPEAT_LABEL = catalog.label_key("repeat")

UNCOLLECTED = ".uncollected"  # suffix of a result the container wrote that no host collected


def owner_labels(run, me=None):
    """The labels of a run's container that name the dlbench process running it and what its
    failed result needs (run: a bench.Run)."""
    labels = (me or Identity.this_process()).labels()
    labels.update({
        DIR_LABEL: run.dir, ROOT_LABEL: run.opts.results_root, ADAPTER_LABEL: run.adapter,
        VARIANT_LABEL: run.variant, DEVICE_LABEL: run.device, SOURCE_LABEL: run.source,
        REPEAT_LABEL: str(run.repeat)})
    return labels


def _container_state(c):
    try:
        c.reload()
    except Exception:
        pass
    return (getattr(c, "attrs", None) or {}).get("State") or {}


def _say(echo, text):
    try:
        echo(text, err=True)
    except OSError:  # no terminal any more: the result files say it
        pass


def _dead_host_result(c, labels, state, exit_code, reason, here):
    """The failed result of a run whose host died (schema-valid, with the host's provenance)."""
    run_id = labels.get(catalog.RUN_LABEL)
    repeat = labels.get(REPEAT_LABEL) or ""
    folder, root = labels.get(DIR_LABEL), labels.get(ROOT_LABEL)
    started = state.get("StartedAt") or ""
    result = results.failed_result(
        labels.get(catalog.TASK_LABEL), labels.get(ADAPTER_LABEL) or "",
        labels.get(VARIANT_LABEL) or "reference", labels.get(DEVICE_LABEL) or "cpu",
        labels.get(SOURCE_LABEL) or "synthetic", reason, exit_code,
        started[:19] + "Z" if len(started) >= 19 and not started.startswith("0001") else None,
        image=labels.get(catalog.IMAGE_NAME_LABEL))
    log = os.path.join(folder, "container.log")
    results.add_provenance(result, {
        "image": labels.get(catalog.IMAGE_NAME_LABEL), "image_id": state.get("Image")
        or (getattr(c, "attrs", None) or {}).get("Image"),
        "host": here.host, "run_id": run_id, "repeat": int(repeat) if repeat.isdigit() else None,
        "log": os.path.relpath(log, root) if root else log,
        "collected_by": "orphan sweep of dlbench pid %d (the run's dlbench pid %s had died)"
                        % (here.pid, labels.get(PID_LABEL))})
    problems = results.validate(result)
    if problems:
        result["provenance_problems"] = problems
    return result


def _collected(path):
    """True when path holds a result the host collected (it has the host's provenance)."""
    try:
        return results.host_provenance_problem(results.read_upgraded(path)) is None
    except (OSError, ValueError):
        return False


def _save_log(c, log_path):
    """The container's whole output into log_path, when the engine holds more of it than the
    dead dlbench saved (it stopped following at its death)."""
    try:
        logs = c.logs(stdout=True, stderr=True)
        if os.path.isfile(log_path) and os.path.getsize(log_path) >= len(logs):
            return
        with open(log_path + ".tmp", "wb") as f:
            f.write(logs)
        os.replace(log_path + ".tmp", log_path)
    except Exception:
        pass


def collect_orphan(c, here, echo):
    """Stop, save and remove one container whose dlbench died, writing its run's failed result;
    returns the path written (None when nothing was)."""
    labels = dict(getattr(c, "labels", None) or {})
    pid = labels.get(PID_LABEL)
    folder = labels.get(DIR_LABEL)
    name = getattr(c, "name", None) or getattr(c, "id", "?")[:12]
    state = _container_state(c)
    was = state.get("Status") or getattr(c, "status", "?")
    if was in ("running", "paused", "restarting"):
        try:
            c.kill()
        except Exception:
            pass
        try:
            c.wait(timeout=30)
        except Exception:
            pass
        state = _container_state(c)
    exit_code = state.get("ExitCode") if was != "created" else None
    written, note = None, None
    if not folder or not os.path.isdir(folder):
        note = "its result folder %s is gone: no result written" % folder
    else:
        path = os.path.join(folder, "result.json")
        if os.path.isfile(path) and _collected(path):
            note = "its result was already collected"
        else:
            reason = "host died: dlbench (pid %s) ended without collecting this run" % pid
            reason += {"running": " (container killed)", "paused": " (container killed)",
                       "restarting": " (container killed)",
                       "created": " (container never started)"}.get(
                was, " (container had exited with code %s)" % exit_code)
            try:  # e.g. another user's results folder: say so, still remove the container
                if os.path.isfile(path):
                    os.replace(path, path + UNCOLLECTED)
                    reason += "; the container's own result kept as result.json" + UNCOLLECTED
                _save_log(c, os.path.join(folder, "container.log"))
                results.write(_dead_host_result(c, labels, state, exit_code, reason, here), path)
                written = path
            except OSError as e:
                note = "cannot write its result in %s: %s" % (folder, e)
    removed = _remove(c)
    _say(echo, "orphaned container %s (run %s, %s %s r%s; its dlbench, pid %s, is gone): was %s, "
         "%s; %s" % (name, labels.get(catalog.RUN_LABEL), labels.get(catalog.IMAGE_NAME_LABEL),
                     labels.get(catalog.TASK_LABEL), labels.get(REPEAT_LABEL), pid, was, removed,
                     note or "failed result written to %s" % _shown(written)))
    return written


def _remove(c):
    """Remove the container (killed if it runs); "removed", or why it could not be."""
    try:
        c.remove(force=True)
        return "removed"
    except Exception as e:
        return "could not be removed (%s)" % str(e).strip().splitlines()[-1][:120]


def _shown(path):
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def remove_oneshot_orphan(c, echo):
    """Kill and remove a one-shot container (check-models, data prepare, pip freeze) whose
    dlbench died: it has no result to write; its owner would have removed it."""
    labels = dict(getattr(c, "labels", None) or {})
    name = getattr(c, "name", None) or getattr(c, "id", "?")[:12]
    _say(echo, "orphaned %s container %s (%s; its dlbench, pid %s, is gone): %s"
         % (labels.get(ONESHOT_LABEL), name, labels.get(catalog.IMAGE_NAME_LABEL) or "",
            labels.get(PID_LABEL), _remove(c)))


def sweep(client, echo, here=None, start_of=None):
    """Collect (collect_orphan) every run container on this engine whose dlbench process is
    dead, and remove its dead one-shot containers; returns the result paths written. Never
    raises for an engine error: nothing swept."""
    here = here or Identity.this_process()
    try:
        runs = client.containers.list(all=True, filters={"label": catalog.RUN_LABEL})
        shots = client.containers.list(all=True, filters={"label": ONESHOT_LABEL})
    except Exception:
        return []
    written = []
    for c in runs:
        if owner_state(dict(getattr(c, "labels", None) or {}), here, start_of) != DEAD:
            continue
        path = collect_orphan(c, here, echo)
        if path:
            written.append(path)
    for c in shots:
        if owner_state(dict(getattr(c, "labels", None) or {}), here, start_of) == DEAD:
            remove_oneshot_orphan(c, echo)
    return written


def quick_client(timeout=15):
    """A client for `dlbench results`' sweep, or None: results must work with no engine (and not
    wait long for one that does not answer)."""
    try:
        import docker
        c = docker.from_env(timeout=timeout)
        c.ping()
        return c
    except Exception:
        return None
