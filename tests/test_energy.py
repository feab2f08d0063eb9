"""tasks/common/energy.py: RAPL arithmetic on a powercap tree laid out as the kernel lays it out
(files in a tmp folder, read by the real code), and energy absent, with its reason, where no
counter is readable (this machine)."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")
if TASKS not in sys.path:
    sys.path.insert(0, TASKS)

from common import energy  # noqa: E402

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
