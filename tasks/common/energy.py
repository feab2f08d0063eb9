"""Energy over the timed span, where the machine tells it; absent (never zero) where it does not.

CPU: the RAPL package counters of the powercap interface (energy_uj, microjoules, wrapping at
max_energy_range_uj), read just before and just after the timed span. They count the whole
package (every process on it, not only this run's) and are often readable by root only (since
the 2020 PLATYPUS advisory). The host mounts its powercap tree read-only into the container at
/dlbench/powercap (harness/runner.py; Docker masks /sys/devices/virtual/powercap itself);
DLBENCH_POWERCAP names another root (the tests' fake tree).
GPU (a GPU run): NVML, the library nvidia-smi reads, through ctypes in this process: the
board's energy counter (nvmlDeviceGetTotalEnergyConsumption, millijoules, Volta and newer),
else its power (nvmlDeviceGetPowerUsage, milliwatts) sampled every 0.1 s in a thread and
integrated; without NVML, nvidia-smi's power.draw sampled the same way. GPU 0, the one the
frameworks compute on.

Meter(device).start() / .stop() around the span; .record(epochs, images) gives the result's
(energy, energy_absent_reason): energy is None and the reason says why when no counter could be
read; otherwise each readable part (cpu_package, gpu) with joules, joules_per_epoch,
joules_per_1000_images and its source, and an unreadable part is None with its reason.
"""
import ctypes
import os
import re
import subprocess
import threading
import time

DEFAULT_ROOTS = ("/dlbench/powercap", "/sys/class/powercap")
PACKAGE = re.compile(r"^intel-rapl:\d+$")  # a package domain (intel-rapl:0:0 are its parts)
SAMPLE_SECONDS = 0.1


def _read_int(path):
    with open(path) as f:
        return int(f.read().strip())


def rapl_domains(root):
    """The package domains under root: (name, folder) for every intel-rapl:N folder at depth 1
    or 2 (/sys/class/powercap/intel-rapl:0, or .../powercap/intel-rapl/intel-rapl:0)."""
    found = []
    if not os.path.isdir(root):
        return found
    for first in sorted(os.listdir(root)):
        path = os.path.join(root, first)
        candidates = [(first, path)]
        if os.path.isdir(path) and not PACKAGE.match(first):
            candidates = [(second, os.path.join(path, second))
                          for second in sorted(os.listdir(path))]
        for name, folder in candidates:
            if PACKAGE.match(name) and os.path.isfile(os.path.join(folder, "energy_uj")):
                found.append((name, folder))
    return found


def delta_uj(before, after, max_range):
    """Microjoules between two readings of a counter that wraps at max_range (one wrap at most:
    a package counter wraps after tens of minutes at full power, so long spans are read per
    epoch by the caller if that ever matters)."""
    if after >= before:
        return after - before
    return max_range - before + after


class Rapl(object):
    """The package counters under one root."""

    def __init__(self, root=None):
        roots = [root] if root else ([os.environ["DLBENCH_POWERCAP"]]
                                     if os.environ.get("DLBENCH_POWERCAP") else DEFAULT_ROOTS)
        self.root, self.domains, self.reason = None, [], None
        tried = []
        for r in roots:
            try:
                domains = rapl_domains(r)
            except (IOError, OSError) as e:
                tried.append("%s: %s" % (r, getattr(e, "strerror", None) or e))
                continue
            if not domains:
                tried.append("%s: %s" % (r, "no intel-rapl package domain" if os.path.isdir(r)
                                         else "absent"))
                continue
            readable = []
            for name, folder in domains:
                try:
                    _read_int(os.path.join(folder, "energy_uj"))
                    readable.append((name, folder, _read_int(
                        os.path.join(folder, "max_energy_range_uj"))))
                except (IOError, OSError, ValueError) as e:
                    tried.append("%s: %s" % (os.path.join(folder, "energy_uj"),
                                             getattr(e, "strerror", None) or e))
            if readable:
                self.root, self.domains = r, readable
                return
        self.reason = "RAPL not readable (%s)" % "; ".join(tried)

    def read(self):
        return [_read_int(os.path.join(folder, "energy_uj")) for _, folder, _ in self.domains]


class _Nvml(object):
    """NVML through ctypes: the board's energy counter or its power, GPU 0."""

    def __init__(self):
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        check = self._check
        init = getattr(self.lib, "nvmlInit_v2", None) or self.lib.nvmlInit
        check(init())
        self.handle = ctypes.c_void_p()
        by_index = (getattr(self.lib, "nvmlDeviceGetHandleByIndex_v2", None)
                    or self.lib.nvmlDeviceGetHandleByIndex)
        check(by_index(ctypes.c_uint(0), ctypes.byref(self.handle)))
        name = ctypes.create_string_buffer(96)
        self.name = None
        if self.lib.nvmlDeviceGetName(self.handle, name, ctypes.c_uint(96)) == 0:
            self.name = name.value.decode("utf-8", "replace")

    @staticmethod
    def _check(code):
        if code != 0:
            raise OSError("NVML error %d" % code)

    def energy_mj(self):
        value = ctypes.c_ulonglong()
        self._check(self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle,
                                                                 ctypes.byref(value)))
        return value.value

    def power_w(self):
        value = ctypes.c_uint()
        self._check(self.lib.nvmlDeviceGetPowerUsage(self.handle, ctypes.byref(value)))
        return value.value / 1000.0


def _smi_power_w():
    out = subprocess.check_output(["nvidia-smi", "--id=0", "--query-gpu=power.draw",
                                   "--format=csv,noheader,nounits"])
    return float(out.decode().strip().splitlines()[0])


class _PowerSampler(threading.Thread):
    """Samples a power reading (watts) every SAMPLE_SECONDS; integrates by the trapezoid rule."""

    def __init__(self, read):
        super(_PowerSampler, self).__init__()
        self.daemon = True
        self.read, self.samples = read, []
        self.done = threading.Event()

    def run(self):
        while True:
            try:
                self.samples.append((time.time(), self.read()))
            except Exception:
                pass
            if self.done.wait(SAMPLE_SECONDS):
                try:
                    self.samples.append((time.time(), self.read()))
                except Exception:
                    pass
                return

    def joules(self):
        s = self.samples
        return sum((t1 - t0) * (p0 + p1) / 2.0 for (t0, p0), (t1, p1) in zip(s, s[1:]))


class Gpu(object):
    """GPU 0's energy by the best means this process has; reason says why not."""

    def __init__(self):
        self.source, self.reason, self.name = None, None, None
        self._energy, self._power = None, None
        problems = []
        try:
            nvml = _Nvml()
            self.name = nvml.name
            try:
                nvml.energy_mj()
                self._energy, self.source = nvml.energy_mj, (
                    "NVML nvmlDeviceGetTotalEnergyConsumption (board energy counter)")
                return
            except OSError as e:
                problems.append("NVML energy counter: %s" % e)
            nvml.power_w()
            self._power, self.source = nvml.power_w, (
                "NVML nvmlDeviceGetPowerUsage sampled every %.1f s" % SAMPLE_SECONDS)
            return
        except (OSError, AttributeError) as e:
            problems.append("NVML: %s" % e)
        try:
            _smi_power_w()
            self._power, self.source = _smi_power_w, (
                "nvidia-smi power.draw sampled every %.1f s" % SAMPLE_SECONDS)
            return
        except (OSError, ValueError, IndexError, subprocess.CalledProcessError) as e:
            problems.append("nvidia-smi: %s" % e)
        self.reason = "GPU energy not readable (%s)" % "; ".join(problems)

    def start(self):
        if self._energy is not None:
            self._first = self._energy()
        elif self._power is not None:
            self._sampler = _PowerSampler(self._power)
            self._sampler.start()

    def stop(self):
        """Joules since start, or None."""
        if self._energy is not None:
            return (self._energy() - self._first) / 1000.0
        if self._power is not None:
            self._sampler.done.set()
            self._sampler.join(5)
            return self._sampler.joules() if len(self._sampler.samples) >= 2 else None
        return None


def _part(joules, epochs, images, source, **extra):
    part = {"joules": joules, "joules_per_epoch": joules / epochs if epochs else None,
            "joules_per_1000_images": 1000.0 * joules / images if images else None,
            "source": source}
    part.update(extra)
    return part


class Meter(object):
    """CPU package (RAPL) and, on a GPU run, GPU energy around one span."""

    def __init__(self, device, powercap=None):
        self.rapl = Rapl(powercap)
        self.gpu = Gpu() if device == "gpu" else None
        self._before = self._cpu_j = self._gpu_j = None

    def start(self):
        if self.rapl.domains:
            self._before = self.rapl.read()
        if self.gpu is not None:
            self.gpu.start()

    def stop(self):
        if self.gpu is not None:
            self._gpu_j = self.gpu.stop()
        if self.rapl.domains and self._before is not None:
            after = self.rapl.read()
            self._cpu_j = sum(delta_uj(b, a, m[2]) for b, a, m in
                              zip(self._before, after, self.rapl.domains)) / 1e6

    def record(self, epochs, images):
        """(energy, energy_absent_reason) for the result."""
        reasons = []
        energy = {}
        if self._cpu_j is not None:
            energy["cpu_package"] = _part(
                self._cpu_j, epochs, images,
                "RAPL package energy_uj under %s (the whole package: every process on it)"
                % self.rapl.root, domains=[d[0] for d in self.rapl.domains])
        else:
            energy["cpu_package"] = None
            energy["cpu_package_absent_reason"] = self.rapl.reason or "not measured"
            reasons.append(energy["cpu_package_absent_reason"])
        if self.gpu is not None:
            if self._gpu_j is not None:
                energy["gpu"] = _part(self._gpu_j, epochs, images, self.gpu.source,
                                      gpu=self.gpu.name)
            else:
                energy["gpu"] = None
                energy["gpu_absent_reason"] = self.gpu.reason or "not measured"
                reasons.append(energy["gpu_absent_reason"])
        if energy.get("cpu_package") is None and energy.get("gpu") is None:
            return None, "; ".join(reasons)
        return energy, None
