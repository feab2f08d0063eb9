"""Was the CPU shared during a run? A timing is spoiled when other work (a second `dlbench
bench`, an image build, anything else on the host) took CPU time the run could have used.

While a run's container runs, the host samples (at most every SAMPLE_EVERY seconds, between the
slices of its wait for the container's end, so it costs a few file reads):
  * the host's CPU time, busy and total, from /proc/stat;
  * the run's own container's CPU time, from its cgroup (cpuacct.usage or cpu.stat, found through
    /proc/<its pid>/cgroup), else from the engine's one-shot stats;
and, at its start and end, the engine's other running containers and /proc/loadavg.

Between the first and the last sample: other_cpus = host busy CPUs - the run's own CPUs (the CPU
time per second of wall time). The run is flagged when other_cpus exceeds the threshold:
max(THRESHOLD_MIN_CPUS, THRESHOLD_SHARE x the host's CPUs), i.e. more than half a CPU, and more
than a tenth of the host's CPUs, went to other work on average. dlbench's own host process (which
follows the output) and the engine's bookkeeping count as other work; on a quiet host they stay
well below the threshold.

The record goes into the result's provenance.contention; `bench` warns, and `dlbench results`
marks the row "ok!" with a note. Not measured (and not flagged), with the reason, when the engine
runs on another machine (/proc/stat would be this machine's) or the run ended before a second
sample."""
import os
import time

SAMPLE_EVERY = 2.0        # seconds between samples (the wait slices pace the calls) ...
ENGINE_SAMPLE_EVERY = 10  # ... when the own CPU time comes from the engine (a slower call)
THRESHOLD_SHARE = 0.10    # of the host's CPUs ...
THRESHOLD_MIN_CPUS = 0.5  # ... and at least this many CPUs, on average over the run
MAX_NAMES = 10            # other containers named in the record


def threshold_cpus(cpus):
    return max(THRESHOLD_MIN_CPUS, THRESHOLD_SHARE * cpus)


def read_proc_stat(path="/proc/stat"):
    """(busy, total, cpus): the host's CPU time in clock ticks, busy and in all, and its CPU
    count; None when it cannot be read."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    for line in lines:
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            v += [0] * (8 - len(v))
            user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
            busy = user + nice + system + irq + softirq + steal  # guest time is inside user
            return busy, busy + idle + iowait, cpus or os.cpu_count() or 1
    return None


def read_loadavg(path="/proc/loadavg"):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def cgroup_cpu_ns(pid, proc="/proc", root="/sys/fs/cgroup"):
    """CPU time (ns) of the cgroup that process `pid` is in (cgroup v1 cpuacct or v2), or None."""
    try:
        with open(os.path.join(proc, str(pid), "cgroup")) as f:
            entries = [line.strip().split(":", 2) for line in f if line.strip()]
    except OSError:
        return None
    for _, controllers, path in (e for e in entries if len(e) == 3):
        if "cpuacct" in controllers.split(","):
            for folder in (controllers, "cpuacct", "cpu,cpuacct"):
                try:
                    with open(os.path.join(root, folder, path.lstrip("/"), "cpuacct.usage")) as f:
                        return int(f.read().strip())
                except (OSError, ValueError):
                    continue
    for _, controllers, path in (e for e in entries if len(e) == 3):
        if controllers == "":
            try:
                with open(os.path.join(root, path.lstrip("/"), "cpu.stat")) as f:
                    for line in f:
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) * 1000
            except (OSError, ValueError):
                pass
    return None


def engine_is_local():
    """True when the engine runs on this machine (its containers' CPU shows in /proc/stat)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith("unix://")


def assess(first, last, cpus, others=(), loadavg=None, why_not=None):
    """The contention record of a run (pure: the decision, tested with stand-in samples).

    first, last: samples (t seconds, host busy ticks, host total ticks, own CPU ns or None);
    cpus: the host's CPU count; others: names of other running containers seen; loadavg: what
    /proc/loadavg said, by moment; why_not: why nothing could be measured."""
    rec = {"measured": False, "flagged": False, "cpus": cpus,
           "threshold_cpus": round(threshold_cpus(cpus or 1), 2),
           "other_containers": sorted(set(others))[:MAX_NAMES],
           "other_container_count": len(set(others))}
    if loadavg:
        rec["loadavg"] = loadavg
    if why_not is None:
        if first is None or last is None or last[0] - first[0] <= 0:
            why_not = "the run ended before a second sample"
        elif first[3] is None or last[3] is None:
            why_not = "the run's own CPU time could not be read"
        elif last[2] - first[2] <= 0:
            why_not = "no host CPU time passed between the samples"
    if why_not is not None:
        rec["why_not_measured"] = why_not
        return rec
    seconds = last[0] - first[0]
    host_busy = float(last[1] - first[1]) / (last[2] - first[2]) * cpus
    own = (last[3] - first[3]) / 1e9 / seconds
    other = max(0.0, host_busy - own)
    rec.update(measured=True, seconds=round(seconds, 1), host_busy_cpus=round(host_busy, 2),
               own_cpus=round(own, 2), other_cpus=round(other, 2),
               flagged=other > threshold_cpus(cpus))
    return rec


def warning(label, rec):
    """The line `bench` prints for a flagged run."""
    return ("%s: WARNING: other work used %.1f of %d CPUs during the run (threshold %.1f; "
            "other containers: %s): its timing may be spoiled" % (
                label, rec["other_cpus"], rec["cpus"], rec["threshold_cpus"],
                ", ".join(rec["other_container_count"] and rec["other_containers"] or ["none"])))


class Watch(object):
    """Samples one run's container and the host (see the module's docstring). begin() after the
    container started, sample() between wait slices, end() after it exited: the record.
    Never raises: a sample that cannot be taken is left out."""

    def __init__(self, container, client, clock=time.time, proc_stat=read_proc_stat,
                 loadavg=read_loadavg, own_cpu=None, local=None, every=SAMPLE_EVERY):
        self.container, self.client, self.clock = container, client, clock
        self.proc_stat, self.loadavg = proc_stat, loadavg
        self.own_cpu = own_cpu
        self.local = engine_is_local() if local is None else local
        self.every = every
        self.first = self.last = None
        self.cpus = None
        self.others = set()
        self.loads = {}

    def _own_cpu_reader(self):
        """A function returning the container's CPU time (ns) or None."""
        pid = None
        try:
            self.container.reload()
            pid = self.container.attrs["State"]["Pid"]
        except Exception:
            pass
        if pid and cgroup_cpu_ns(pid) is not None:
            return lambda: cgroup_cpu_ns(pid)
        self.every = max(self.every, ENGINE_SAMPLE_EVERY)

        def engine_stats():  # the engine's one-shot stats (may take a second on older engines)
            try:
                s = self.container.stats(stream=False, one_shot=True)
                return int(s["cpu_stats"]["cpu_usage"]["total_usage"]) or None
            except Exception:
                return None
        return engine_stats

    def _other_containers(self):
        try:
            own = getattr(self.container, "id", None)
            for c in self.client.containers.list(filters={"status": "running"}):
                if c.id != own:
                    self.others.add(c.name)
        except Exception:
            pass

    def _sample(self):
        stat = self.proc_stat()
        if stat is None:
            return None
        self.cpus = stat[2]
        return (self.clock(), stat[0], stat[1], self.own_cpu())

    def begin(self):
        try:
            self._other_containers()
            self.loads["start"] = self.loadavg()
            if not self.local:
                return
            if self.own_cpu is None:
                self.own_cpu = self._own_cpu_reader()
            self.first = self._sample()
        except Exception:
            self.first = None

    def sample(self):
        try:
            if self.first is None:
                return
            if self.clock() - (self.last or self.first)[0] < self.every:
                return
            s = self._sample()
            if s is not None and s[3] is not None:
                self.last = s
        except Exception:
            pass

    def end(self):
        try:
            self._other_containers()
            self.loads["end"] = self.loadavg()
            why = None if self.local else ("the engine runs on another machine: this host's "
                                           "load says nothing about it")
            return assess(self.first, self.last, self.cpus or os.cpu_count() or 1,
                          self.others, {k: v for k, v in self.loads.items() if v}, why)
        except Exception as e:  # never cost the run its result
            return {"measured": False, "flagged": False,
                    "why_not_measured": "%s: %s" % (type(e).__name__, e)}
