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
integrated; without NVML, nvidia-smi's power.draw sampled the same way. The GPUs the run
computes on: GPU 0, or the first N of a data-parallel run (Meter(..., gpus=N)), summed; their
NVML indices are CUDA_VISIBLE_DEVICES's entries where it lists indices (NVML ignores that
variable), else 0 .. N-1 (NVML numbers boards in PCI order; CUDA does too with
CUDA_DEVICE_ORDER=PCI_BUS_ID, else fastest first, which differs only on a machine of mixed
GPUs). Unverified on a GPU: no GPU machine ran this yet.

Meter(device).start() / .stop() around the span; a span with pauses (the DenseNet loop stops
its clock for each validation pass) is several start() / stop() segments: each segment is its
own pair of readings (a RAPL counter that wraps in a segment or in a pause between two is
handled: each segment wraps at most once), the parts sum the segments, and record() says how
many there were and how long they lasted (seconds, by the protocol's clock; a caller that hands
its own clock readings to start(at) / stop(at), as the DenseNet loop does, gets exactly its
timed span). .record(epochs, images) gives the result's
(energy, energy_absent_reason): energy is None and the reason says why when no counter could be
read; otherwise each readable part (cpu_package, gpu) with joules, joules_per_epoch,
joules_per_1000_images and its source, and an unreadable part is None with its reason.

Several replicas: one process measures (the result's, rank 0) and the others measure nothing.
RAPL counts whole packages, not replicas: in a multi-replica CPU run cpu_package is the energy
of every package over rank 0's timed span (all replicas, and anything else on the machine), and
per 1000 images divides it by the images of all replicas. On GPUs, the gpu part sums the run's
N boards over the same span.
"""
from __future__ import absolute_import, division, print_function
import ctypes
import os
import re
import subprocess
import threading
import time

from measure import timer

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


def nvml_indices(count, visible=None):
    """The NVML indices of the first `count` GPUs the frameworks see: NVML numbers every GPU
    of the machine (or container), CUDA_VISIBLE_DEVICES does not apply to it; where that
    variable lists indices ("2,3") the run's GPUs are those, else (unset, or UUIDs) 0 .. N-1."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    if visible:
        listed = [v.strip() for v in visible.split(",") if v.strip()]
        if listed and all(v.isdigit() for v in listed) and len(listed) >= count:
            return [int(v) for v in listed[:count]]
    return list(range(count))


class _Nvml(object):
    """NVML through ctypes: one board's energy counter or its power, by NVML index."""

    def __init__(self, index=0):
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        check = self._check
        init = getattr(self.lib, "nvmlInit_v2", None) or self.lib.nvmlInit
        check(init())
        self.handle = ctypes.c_void_p()
        by_index = (getattr(self.lib, "nvmlDeviceGetHandleByIndex_v2", None)
                    or self.lib.nvmlDeviceGetHandleByIndex)
        check(by_index(ctypes.c_uint(index), ctypes.byref(self.handle)))
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


def _smi_power_w(indices=(0,)):
    """The summed power.draw of the boards (nvidia-smi numbers them as NVML does)."""
    out = subprocess.check_output(["nvidia-smi", "--id=%s" % ",".join(str(i) for i in indices),
                                   "--query-gpu=power.draw", "--format=csv,noheader,nounits"])
    lines = out.decode().strip().splitlines()
    if len(lines) != len(indices):
        raise ValueError("nvidia-smi gave %d power readings for %d GPUs" % (len(lines),
                                                                            len(indices)))
    return sum(float(line) for line in lines)


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
    """The run's GPUs' energy (GPU 0, or the first `count`, summed) by the best means this
    process has; reason says why not. Every start() / stop() pair is one segment; stop() gives
    that segment's joules (None when it could not be read)."""

    def __init__(self, count=1):
        self.source, self.reason, self.name = None, None, None
        self.indices = nvml_indices(max(1, count))
        self.names = []
        self._energy, self._power = None, None
        problems = []
        try:
            boards = [_Nvml(i) for i in self.indices]
            self.names = [b.name for b in boards]
            self.name = self.names[0]
            try:
                for b in boards:
                    b.energy_mj()
                self._energy = lambda: sum(b.energy_mj() for b in boards)
                self.source = "NVML nvmlDeviceGetTotalEnergyConsumption (board energy counter)"
                return
            except OSError as e:
                problems.append("NVML energy counter: %s" % e)
            for b in boards:
                b.power_w()
            self._power = lambda: sum(b.power_w() for b in boards)
            self.source = ("NVML nvmlDeviceGetPowerUsage sampled every %.1f s" % SAMPLE_SECONDS)
            return
        except (OSError, AttributeError) as e:
            problems.append("NVML: %s" % e)
        indices = self.indices
        try:
            _smi_power_w(indices)
            self._power = lambda: _smi_power_w(indices)
            self.source = "nvidia-smi power.draw sampled every %.1f s" % SAMPLE_SECONDS
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
    """CPU package (RAPL) and, on a GPU run, GPU energy over one span or over several segments
    of one (start() / stop() pairs: the parts sum the segments). gpus: how many GPUs the run
    computes on (a data-parallel run's device count), summed."""

    def __init__(self, device, powercap=None, gpus=1):
        self.rapl = Rapl(powercap)
        self.gpu = Gpu(gpus) if device == "gpu" else None
        self._before = self._started = None
        self._cpu_j = self._gpu_j = None
        self._gpu_failed = False
        self.segments, self.seconds = 0, 0.0

    def start(self, at=None):
        """Begin a segment; at: the caller's clock reading for its start (measure/timer.py)."""
        if self._started is not None:
            raise RuntimeError("energy meter started twice without a stop")
        if self.rapl.domains:
            self._before = self.rapl.read()
        if self.gpu is not None:
            self.gpu.start()
        self._started = timer.clock() if at is None else at

    def stop(self, at=None):
        """End the segment (at: the caller's clock reading for its end): its energy is added
        to the span's."""
        if self._started is None:
            raise RuntimeError("energy meter stopped without a start")
        self.seconds += (timer.clock() if at is None else at) - self._started
        self._started = None
        self.segments += 1
        if self.gpu is not None:
            joules = self.gpu.stop()
            if joules is None:  # one unreadable segment spoils the sum: absent, not too low
                self._gpu_failed = True
            else:
                self._gpu_j = (self._gpu_j or 0.0) + joules
        if self.rapl.domains and self._before is not None:
            after = self.rapl.read()
            self._cpu_j = (self._cpu_j or 0.0) + sum(
                delta_uj(b, a, m[2]) for b, a, m in
                zip(self._before, after, self.rapl.domains)) / 1e6
            self._before = None

    def record(self, epochs, images):
        """(energy, energy_absent_reason) for the result."""
        reasons = []
        energy = {}
        span = {"segments": self.segments, "seconds": self.seconds}
        if self._cpu_j is not None:
            energy["cpu_package"] = _part(
                self._cpu_j, epochs, images,
                "RAPL package energy_uj under %s (the whole package: every process on it)"
                % self.rapl.root, domains=[d[0] for d in self.rapl.domains], **span)
        else:
            energy["cpu_package"] = None
            energy["cpu_package_absent_reason"] = self.rapl.reason or "not measured"
            reasons.append(energy["cpu_package_absent_reason"])
        if self.gpu is not None:
            if self._gpu_j is not None and not self._gpu_failed:
                energy["gpu"] = _part(self._gpu_j, epochs, images, self.gpu.source,
                                      gpu=self.gpu.name, gpus=self.gpu.names,
                                      nvml_indices=self.gpu.indices, **span)
            else:
                energy["gpu"] = None
                energy["gpu_absent_reason"] = self.gpu.reason or (
                    "a segment of the span gave no reading" if self._gpu_failed
                    else "not measured")
                reasons.append(energy["gpu_absent_reason"])
        if energy.get("cpu_package") is None and energy.get("gpu") is None:
            return None, "; ".join(reasons)
        return energy, None
