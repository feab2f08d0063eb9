"""MFU against the vendor's nominal peak, on the host.

The container measures its own peak and fills mfu.achieved_gflops / of_measured_peak
(tasks/measure/flops.py, tasks/measure/peak.py); the vendor's nominal fp32 peaks live here, in
harness/results/data/gpu_peaks.json (the container does not see harness/), so the host completes the
nominal fields when it collects a result (harness/runs/container_run.py) and the report reads them."""
import json
import os
import re

PEAKS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "gpu_peaks.json")
_PEAKS = None


def load_peaks(path=None):
    global _PEAKS
    if path is not None:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["gpus"]
    if _PEAKS is None:
        with open(PEAKS_PATH, encoding="utf-8") as f:
            _PEAKS = json.load(f)["gpus"]
    return _PEAKS


def nominal_for(gpu_name, peaks=None):
    """The gpu_peaks.json entry whose patterns match this GPU name first, or None."""
    if not isinstance(gpu_name, str) or not gpu_name.strip():
        return None
    for entry in peaks or load_peaks():
        if any(re.search(p, gpu_name, re.IGNORECASE) for p in entry["match"]):
            return entry
    return None


def gpu_name(result):
    """The GPU a result ran on, as the framework (env.gpu) or NVML (energy.gpu.gpu) named it."""
    if result.get("device") != "gpu":
        return None
    name = (result.get("env") or {}).get("gpu")
    if not name:
        gpu = (result.get("energy") or {}).get("gpu") or {}
        name = gpu.get("gpu") if isinstance(gpu, dict) else None
    return name if isinstance(name, str) else None


def complete(result):
    """Fill mfu.of_nominal_peak, nominal_peak_gflops, nominal_source and nominal_gpu from
    gpu_peaks.json when the result ran on a GPU it knows; leaves them None otherwise (a CPU has
    no nominal peak here: its measured peak is the yardstick). Returns the result."""
    mfu = result.get("mfu")
    if not isinstance(mfu, dict):
        return result
    entry = nominal_for(gpu_name(result))
    if entry is None:
        return result
    nominal = entry["tflops_fp32"] * 1000.0
    achieved = mfu.get("achieved_gflops")
    mfu.update(nominal_peak_gflops=nominal, nominal_source=entry["source"],
               nominal_gpu=entry["name"],
               of_nominal_peak=achieved / nominal if isinstance(achieved, (int, float))
               else None)
    return result
