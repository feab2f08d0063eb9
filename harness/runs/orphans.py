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
import socket

from ..core import catalog
from ..results import results

HOST_LABEL = catalog.label_key("host")
PID_LABEL = catalog.label_key("pid")
PID_START_LABEL = catalog.label_key("pid-start")    # clock ticks after boot (/proc/PID/stat)
BOOT_LABEL = catalog.label_key("boot-id")           # /proc/sys/kernel/random/boot_id
PID_NS_LABEL = catalog.label_key("pid-ns")          # readlink /proc/self/ns/pid
DIR_LABEL = catalog.label_key("result-dir")         # the run's folder (result.json goes here)
ROOT_LABEL = catalog.label_key("results-root")      # the results root (provenance's log path)
ADAPTER_LABEL = catalog.label_key("adapter")        # the run's adapter, one of the image's
VARIANT_LABEL = catalog.label_key("variant")
DEVICE_LABEL = catalog.label_key("device")
SOURCE_LABEL = catalog.label_key("source")
REPEAT_LABEL = catalog.label_key("repeat")

ALIVE, DEAD, UNKNOWN = "alive", "dead", "unknown"
UNCOLLECTED = ".uncollected"  # suffix of a result the container wrote that no host collected


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def process_start(pid, proc="/proc"):
    """A process's start time (clock ticks after boot, as text); "" when it exists but its start
    cannot be read (no /proc); None when there is no such process."""
    stat = _read(os.path.join(proc, str(pid), "stat"))
    if stat is not None:
        # pid (comm) state ppid ...: comm may hold spaces and parentheses; field 22 is starttime
        fields = stat.rsplit(")", 1)[-1].split()
        return fields[19] if len(fields) > 19 else ""
    if os.path.isdir(proc) and os.path.isdir(os.path.join(proc, "self")):
        return None  # /proc works and has no such process
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return None
    except (PermissionError, OSError, ValueError):
        return ""
    return ""


class Identity(object):
    """Who a process is: host name, boot id, pid namespace, pid and start time (what a later
    dlbench compares to tell whether it still runs)."""

    def __init__(self, host, boot_id, pid_ns, pid, start):
        self.host, self.boot_id, self.pid_ns = host, boot_id or "", pid_ns or ""
        self.pid, self.start = int(pid), start or ""

    @classmethod
    def this_process(cls, proc="/proc"):
        try:
            pid_ns = os.readlink(os.path.join(proc, "self", "ns", "pid"))
        except OSError:
            pid_ns = ""
        pid = os.getpid()
        return cls(socket.gethostname(), _read(os.path.join(proc, "sys", "kernel", "random",
                                                             "boot_id")),
                   pid_ns, pid, process_start(pid, proc))

    def labels(self):
        return {HOST_LABEL: self.host, BOOT_LABEL: self.boot_id, PID_NS_LABEL: self.pid_ns,
                PID_LABEL: str(self.pid), PID_START_LABEL: self.start}


def owner_labels(run, me=None):
    """The labels of a run's container that name the dlbench process running it and what its
    failed result needs (run: a runner.Run)."""
    labels = (me or Identity.this_process()).labels()
    labels.update({
        DIR_LABEL: run.dir, ROOT_LABEL: run.opts.results_root, ADAPTER_LABEL: run.adapter,
        VARIANT_LABEL: run.variant, DEVICE_LABEL: run.device, SOURCE_LABEL: run.source,
        REPEAT_LABEL: str(run.repeat)})
    return labels


def owner_state(labels, here, start_of=None):
    """ALIVE, DEAD or UNKNOWN: the state of the dlbench process that runs a container with these
    labels, judged from `here` (this process's Identity). UNKNOWN (never touch it): no owner
    labels (an older dlbench), another host, or another pid namespace of this boot."""
    host, pid = labels.get(HOST_LABEL), labels.get(PID_LABEL)
    if not host or not pid or not pid.isdigit():
        return UNKNOWN
    if host != here.host:
        return UNKNOWN
    boot = labels.get(BOOT_LABEL) or ""
    if boot and here.boot_id and boot != here.boot_id:
        return DEAD  # this host booted since: every process of that boot is gone
    if (labels.get(PID_NS_LABEL) or "") != here.pid_ns:
        return UNKNOWN  # another pid namespace (e.g. a dlbench in a container): not ours to judge
    start = (start_of or process_start)(int(pid))
    if start is None:
        return DEAD
    recorded = labels.get(PID_START_LABEL) or ""
    if recorded and start and recorded != start:
        return DEAD  # the pid was reused by a later process
    return ALIVE


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
        return results.host_provenance_problem(results.read(path)) is None
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
    try:
        c.remove(force=True)
        removed = "removed"
    except Exception as e:
        removed = "could not be removed (%s)" % str(e).strip().splitlines()[-1][:120]
    _say(echo, "orphaned container %s (run %s, %s %s r%s; its dlbench, pid %s, is gone): was %s, "
         "%s; %s" % (name, labels.get(catalog.RUN_LABEL), labels.get(catalog.IMAGE_NAME_LABEL),
                     labels.get(catalog.TASK_LABEL), labels.get(REPEAT_LABEL), pid, was, removed,
                     note or "failed result written to %s" % _shown(written)))
    return written


def _shown(path):
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def sweep(client, echo, here=None, start_of=None):
    """Collect (collect_orphan) every run container on this engine whose dlbench process is
    dead; returns the result paths written. Never raises for an engine error: nothing swept."""
    here = here or Identity.this_process()
    try:
        found = client.containers.list(all=True, filters={"label": catalog.RUN_LABEL})
    except Exception:
        return []
    written = []
    for c in found:
        if owner_state(dict(getattr(c, "labels", None) or {}), here, start_of) != DEAD:
            continue
        path = collect_orphan(c, here, echo)
        if path:
            written.append(path)
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
