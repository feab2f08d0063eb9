"""tasks/measure/energy.py: RAPL arithmetic on a powercap tree laid out as the kernel lays it out
(files in a tmp folder, read by the real code), and energy absent, with its reason, where no
counter is readable (this machine)."""
import os
import sys

import pytest

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
if TASKS not in sys.path:
    sys.path.insert(0, TASKS)

from measure import energy, timer  # noqa: E402

MAX = 262143328850  # max_energy_range_uj of a real package domain


def domain(folder, name, uj, max_uj=MAX):
    os.makedirs(folder)
    for fname, value in (("name", name), ("energy_uj", uj), ("max_energy_range_uj", max_uj)):
        with open(os.path.join(folder, fname), "w") as f:
            f.write("%s\n" % value)


def set_uj(folder, uj):
    with open(os.path.join(folder, "energy_uj"), "w") as f:
        f.write("%d\n" % uj)


def test_delta_wraps_around():
    assert energy.delta_uj(100, 350, 1000) == 250
    assert energy.delta_uj(900, 150, 1000) == 250  # 900 -> 1000 (wrap) -> 150
    assert energy.delta_uj(5, 5, 1000) == 0


def test_rapl_packages_per_epoch_and_per_1000_images(tmp_path):
    # /sys/class/powercap's flat layout: packages intel-rapl:0 and :1, their parts intel-rapl:0:0
    root = str(tmp_path)
    p0, p1 = os.path.join(root, "intel-rapl:0"), os.path.join(root, "intel-rapl:1")
    domain(p0, "package-0", 1000000)
    domain(p1, "package-1", MAX - 2000000)          # about to wrap
    domain(os.path.join(root, "intel-rapl:0:0"), "core", 7)  # a part of package 0: not added
    domain(os.path.join(root, "intel-rapl-mmio:0"), "package-0", 9)  # not a package domain
    meter = energy.Meter("cpu", powercap=root)
    assert [d[0] for d in meter.rapl.domains] == ["intel-rapl:0", "intel-rapl:1"]
    meter.start()
    set_uj(p0, 1000000 + 30000000)                  # +30 J
    set_uj(p1, 8000000)                             # wrapped: +2 J to the top, +8 J after
    meter.stop()
    rec, reason = meter.record(epochs=2, images=6400)
    assert reason is None
    cpu = rec["cpu_package"]
    assert cpu["joules"] == pytest.approx(40.0)
    assert cpu["joules_per_epoch"] == pytest.approx(20.0)
    assert cpu["joules_per_1000_images"] == pytest.approx(40.0 / 6.4)
    assert cpu["domains"] == ["intel-rapl:0", "intel-rapl:1"] and root in cpu["source"]
    assert "gpu" not in rec  # a CPU run measures no GPU


def test_rapl_nested_layout_as_mounted_into_the_container(tmp_path):
    # /sys/devices/virtual/powercap, mounted at /dlbench/powercap: intel-rapl/intel-rapl:0
    root = str(tmp_path)
    p0 = os.path.join(root, "intel-rapl", "intel-rapl:0")
    domain(p0, "package-0", 500)
    meter = energy.Meter("cpu", powercap=root)
    meter.start()
    set_uj(p0, 500 + 1500000)
    meter.stop()
    rec, reason = meter.record(epochs=1, images=1000)
    assert rec["cpu_package"]["joules"] == pytest.approx(1.5)
    assert rec["cpu_package"]["joules_per_1000_images"] == pytest.approx(1.5)


def test_env_var_names_the_tree(tmp_path, monkeypatch):
    domain(os.path.join(str(tmp_path), "intel-rapl:0"), "package-0", 1)
    monkeypatch.setenv("DLBENCH_POWERCAP", str(tmp_path))
    assert energy.Rapl().root == str(tmp_path)


def test_absent_with_a_reason_without_counters(tmp_path):
    meter = energy.Meter("cpu", powercap=str(tmp_path / "nothing"))
    meter.start()
    meter.stop()
    rec, reason = meter.record(epochs=1, images=64)
    assert rec is None  # never zero
    assert reason.startswith("RAPL not readable") and "nothing: absent" in reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_unreadable_counter_is_absent(tmp_path):
    p0 = os.path.join(str(tmp_path), "intel-rapl:0")
    domain(p0, "package-0", 1)
    os.chmod(os.path.join(p0, "energy_uj"), 0)  # as the kernel ships it since 5.10: root only
    rec, reason = energy.Meter("cpu", powercap=str(tmp_path)).record(1, 64)
    assert rec is None and "Permission denied" in reason


def test_this_machine_without_readable_counters():
    """Here (and in CI containers) neither RAPL nor NVML is readable: energy is absent, with
    the reasons, on a CPU and on a GPU run alike."""
    meter = energy.Meter("gpu")
    if meter.rapl.domains or meter.gpu.reason is None:
        pytest.skip("this machine has readable energy counters")
    meter.start()
    meter.stop()
    rec, reason = meter.record(epochs=1, images=64)
    assert rec is None
    assert "RAPL not readable" in reason and "GPU energy not readable" in reason


def test_gpu_unreadable_cpu_readable(tmp_path):
    p0 = os.path.join(str(tmp_path), "intel-rapl:0")
    domain(p0, "package-0", 1)
    meter = energy.Meter("gpu", powercap=str(tmp_path))
    if meter.gpu.reason is None:
        pytest.skip("this machine reads GPU energy")
    meter.start()
    set_uj(p0, 2000001)
    meter.stop()
    rec, reason = meter.record(epochs=1, images=64)
    assert reason is None and rec["cpu_package"]["joules"] == pytest.approx(2.0)
    assert rec["gpu"] is None and rec["gpu_absent_reason"].startswith("GPU energy not readable")


def test_segments_add_up_and_a_wrap_in_the_pause_is_not_counted(tmp_path):
    """A span read in segments (the DenseNet loop pauses for validation): each segment is its
    own pair of readings; what the counter does in a pause is not counted, a wrap there
    included, and a wrap inside a segment is handled."""
    p0 = os.path.join(str(tmp_path), "intel-rapl:0")
    domain(p0, "package-0", MAX - 3000000)
    meter = energy.Meter("cpu", powercap=str(tmp_path))
    meter.start()
    set_uj(p0, MAX - 1000000)            # segment 1: +2 J
    meter.stop()
    set_uj(p0, 4000000)                  # the pause: wraps (+5 J), not counted
    meter.start()
    set_uj(p0, 9000000)                  # segment 2: +5 J
    meter.stop()
    set_uj(p0, MAX - 500000)             # the pause: +big, not counted
    meter.start()
    set_uj(p0, 1500000)                  # segment 3 wraps inside: +0.5 J +1.5 J
    meter.stop()
    rec, reason = meter.record(epochs=2, images=800)
    cpu = rec["cpu_package"]
    assert reason is None and cpu["segments"] == 3
    assert cpu["joules"] == pytest.approx(9.0)
    assert cpu["joules_per_epoch"] == pytest.approx(4.5)
    assert cpu["joules_per_1000_images"] == pytest.approx(9.0 / 0.8)
    assert cpu["seconds"] >= 0


def test_meter_segments_must_pair(tmp_path):
    meter = energy.Meter("cpu", powercap=str(tmp_path / "nothing"))
    with pytest.raises(RuntimeError):
        meter.stop()
    meter.start()
    with pytest.raises(RuntimeError):
        meter.start()


def test_nvml_indices_follow_cuda_visible_devices():
    # NVML numbers every board; CUDA_VISIBLE_DEVICES picks the run's (indices only)
    assert energy.nvml_indices(2, visible="") == [0, 1]
    assert energy.nvml_indices(2, visible="2,3,5") == [2, 3]
    assert energy.nvml_indices(1, visible="GPU-8f3e9c1a-aaaa") == [0]
    assert energy.nvml_indices(4, visible="1,2") == [0, 1, 2, 3]


class _CountingAdapter(object):
    """A DenseNet-loop adapter that spends energy in the package counter's file: 1 J a step,
    1000 J for the warm-up step (before the clock), 50 J for the host copy after each epoch and
    100 J for each validation pass (both in the clock's pauses)."""

    def __init__(self, folder):
        self.folder, self.uj, self.steps = folder, 0, 0
        self.now = 0.0  # a fake timer.clock: a step takes 1 s, nothing else takes any

    def clock(self):
        return self.now

    def spend(self, joules):
        self.uj += int(joules * 1e6)
        set_uj(self.folder, self.uj)

    def train_step(self, state, x, y):
        self.steps += 1
        self.now += 1.0
        self.spend(1000 if self.steps == 1 else 1)
        return 0.5

    def sync(self, state):
        pass

    def to_float(self, loss):
        self.spend(50)
        return float(loss)


def test_densenet_loop_meters_exactly_the_timed_segments(tmp_path, monkeypatch):
    """protocol.train_loader drives the meter with its clock: the joules are those of the
    timed steps only (no warm-up, no host copy, no validation), over every epoch, and the
    segments' seconds equal train_seconds."""
    from runtime import protocol
    p0 = os.path.join(str(tmp_path), "intel-rapl:0")
    domain(p0, "package-0", 0)
    adapter = _CountingAdapter(p0)
    loader = [(None, None)] * 5                    # 5 batches an epoch
    p = {"epochs": 3, "batch_size": 4, "global_batch": 8, "devices": 2}

    def validate(epoch):
        adapter.spend(100)
        return 0.1

    meter = energy.Meter("cpu", powercap=str(tmp_path))
    # the loop's and the meter's clock is the adapter's: the seconds compared below do not
    # depend on how loaded the machine is
    monkeypatch.setattr(timer, "clock", adapter.clock)
    timings, loss, _ = protocol.train_loader(adapter, None, loader, p, validate, meter)
    assert timings["train_seconds"] == 14.0         # 14 timed steps of 1 s
    assert timings["batches"] == 4 + 5 + 5          # the first step is the warm-up
    rec, reason = meter.record(p["epochs"], timings["batches"] * p["global_batch"])
    cpu = rec["cpu_package"]
    assert cpu["joules"] == pytest.approx(14.0)     # 14 timed steps x 1 J
    assert cpu["joules_per_1000_images"] == pytest.approx(14.0 / 0.112)
    assert cpu["segments"] == p["epochs"] + 1
    assert cpu["seconds"] == pytest.approx(timings["train_seconds"], abs=1e-3)
