"""harness/runs/contention.py: the decision (other work's CPU beyond the run's own, against the
threshold) from stand-in samples, the readers of /proc/stat and of a container's cgroup, and the
watch driven by a stand-in clock."""
import pytest

from harness.runs import contention

S = 10 ** 9  # ns per second


def sample(t, busy, total, own_seconds):
    return (t, busy, total, None if own_seconds is None else int(own_seconds * S))


@pytest.mark.parametrize("busy_share,own_cpus,cpus,flagged", [
    (0.50, 1.0, 2, False),   # the run alone used one of two CPUs
    (0.95, 1.8, 2, False),   # the run used nearly all; 0.1 CPU of other work
    (0.95, 1.0, 2, True),    # another bench took 0.9 CPU (threshold 0.5)
    (0.60, 1.0, 2, False),   # 0.2 CPU of other work: background noise
    (0.55, 8.0, 16, False),  # 0.8 CPU of 16: below a tenth of the host (1.6)
    (0.70, 8.0, 16, True),   # 3.2 CPUs of 16
])
def test_the_decision(busy_share, own_cpus, cpus, flagged):
    rec = contention.assess(sample(0, 0, 0, 0), sample(100, int(busy_share * 10000), 10000,
                                                       own_cpus * 100), cpus)
    assert rec["measured"] and rec["flagged"] == flagged
    assert rec["host_busy_cpus"] == round(busy_share * cpus, 2)
    assert rec["own_cpus"] == own_cpus
    assert rec["other_cpus"] == round(max(0, busy_share * cpus - own_cpus), 2)
    assert rec["threshold_cpus"] == max(0.5, 0.1 * cpus) and rec["seconds"] == 100


def test_own_cpu_above_the_host_busy_is_no_negative_other_work():
    rec = contention.assess(sample(0, 0, 0, 0), sample(10, 900, 2000, 10), 2)
    assert rec["other_cpus"] == 0.0 and not rec["flagged"]


@pytest.mark.parametrize("first,last,why", [
    (sample(0, 0, 0, 0), None, "the run ended before a second sample"),
    (None, None, "the run ended before a second sample"),
    (sample(0, 0, 0, None), sample(5, 10, 20, None), "the run's own CPU time could not be read"),
    (sample(0, 5, 20, 0), sample(5, 5, 20, 1), "no host CPU time passed between the samples"),
])
def test_not_measured_says_why_and_never_flags(first, last, why):
    rec = contention.assess(first, last, 2, others=["b", "a", "a"], loadavg={"start": [1.0]})
    assert not rec["measured"] and not rec["flagged"] and rec["why_not_measured"] == why
    assert rec["other_containers"] == ["a", "b"] and rec["other_container_count"] == 2
    assert rec["loadavg"] == {"start": [1.0]}


def test_read_proc_stat_and_loadavg(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 50 800 20 3 2 1 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n"
                    "cpu1 50 3 25 400 10 2 1 1 0 0\nintr 1 2 3\n")
    busy, total, cpus = contention.read_proc_stat(str(stat))
    assert busy == 100 + 5 + 50 + 3 + 2 + 1 and total == busy + 800 + 20 and cpus == 2
    assert contention.read_proc_stat(str(tmp_path / "missing")) is None
    load = tmp_path / "loadavg"
    load.write_text("5.84 5.61 4.89 9/169 17696\n")
    assert contention.read_loadavg(str(load)) == [5.84, 5.61, 4.89]


def test_cgroup_cpu_time_v1_and_v2(tmp_path):
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "10").mkdir(parents=True)
    (proc / "10" / "cgroup").write_text("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n"
                                        "0::/docker/abc\n")
    (root / "cpu,cpuacct" / "docker" / "abc").mkdir(parents=True)
    (root / "cpu,cpuacct" / "docker" / "abc" / "cpuacct.usage").write_text("123456789\n")
    assert contention.cgroup_cpu_ns(10, str(proc), str(root)) == 123456789
    (proc / "11").mkdir()
    (proc / "11" / "cgroup").write_text("0::/system.slice/docker-def.scope\n")
    (root / "system.slice" / "docker-def.scope").mkdir(parents=True)
    (root / "system.slice" / "docker-def.scope" / "cpu.stat").write_text(
        "usage_usec 2500000\nuser_usec 2000000\n")
    assert contention.cgroup_cpu_ns(11, str(proc), str(root)) == 2500000 * 1000
    assert contention.cgroup_cpu_ns(12, str(proc), str(root)) is None


class Clock(object):
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Others(object):
    """A stand-in engine: other running containers (and this run's own)."""

    class containers(object):
        @staticmethod
        def list(filters=None):
            assert filters == {"status": "running"}
            return [type("C", (), {"id": "own-id", "name": "own"})(),
                    type("C", (), {"id": "x-id", "name": "dlbench-other-bench"})()]


def test_the_watch_samples_between_slices_and_flags_a_second_bench():
    clock = Clock()
    host = {"busy": 0, "total": 0}
    own = {"ns": 0}

    def tick(seconds, busy_cpus, own_cpus):
        clock.t += seconds
        host["busy"] += int(busy_cpus * seconds * 100)
        host["total"] += int(2 * seconds * 100)
        own["ns"] += int(own_cpus * seconds * S)

    container = type("C", (), {"id": "own-id"})()
    w = contention.Watch(container, Others(), clock=clock,
                         proc_stat=lambda: (host["busy"], host["total"], 2),
                         loadavg=lambda: [2.0, 1.0, 0.5], own_cpu=lambda: own["ns"], local=True)
    w.begin()
    for _ in range(10):  # 20 s: 1 CPU ours, 0.9 another bench's
        tick(1, 1.9, 1.0)
        w.sample()
    tick(0.5, 1.9, 1.0)  # the container exits between samples
    rec = w.end()
    assert rec["measured"] and rec["flagged"] and rec["other_cpus"] == 0.9
    assert rec["seconds"] == 10.0  # samples 2 s apart (SAMPLE_EVERY): t=0 and t=10
    assert rec["other_containers"] == ["dlbench-other-bench"]
    assert rec["loadavg"] == {"start": [2.0, 1.0, 0.5], "end": [2.0, 1.0, 0.5]}
    assert contention.warning("L", rec) == (
        "L: WARNING: other work used 0.9 of 2 CPUs during the run (threshold 0.5; other "
        "containers: dlbench-other-bench): its timing may be spoiled")


def test_the_watch_on_a_remote_engine_measures_nothing():
    w = contention.Watch(type("C", (), {"id": "own-id"})(), Others(), local=False,
                         own_cpu=lambda: 0)
    w.begin()
    w.sample()
    rec = w.end()
    assert not rec["measured"] and "another machine" in rec["why_not_measured"]


def test_the_watch_never_raises():
    class Broken(object):
        class containers(object):
            @staticmethod
            def list(filters=None):
                raise ConnectionError("engine gone")

    def boom():
        raise RuntimeError("no /proc")

    w = contention.Watch(object(), Broken(), proc_stat=boom, own_cpu=boom, local=True)
    w.begin()
    w.sample()
    rec = w.end()
    assert rec["measured"] is False and rec["flagged"] is False
