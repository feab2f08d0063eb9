"""Who owns a container dlbench starts: labels naming the dlbench process (host, boot id, pid
namespace, pid and its start time), and whether that process still lives. Every container dlbench
starts carries them (a bench run's, harness/runs/runspec.py; a one-shot's, oneshot.py), so a
later dlbench can tell the containers of a dead one (harness/runs/orphans.py sweeps them) from
those of one still running."""
import os
import socket

from ..core import catalog

HOST_LABEL = catalog.label_key("host")
PID_LABEL = catalog.label_key("pid")
PID_START_LABEL = catalog.label_key("pid-start")    # clock ticks after boot (/proc/PID/stat)
BOOT_LABEL = catalog.label_key("boot-id")           # /proc/sys/kernel/random/boot_id
PID_NS_LABEL = catalog.label_key("pid-ns")          # readlink /proc/self/ns/pid
# a one-shot container (check-models, data prepare, pip freeze): what it was for
ONESHOT_LABEL = catalog.label_key("oneshot")

ALIVE, DEAD, UNKNOWN = "alive", "dead", "unknown"


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
