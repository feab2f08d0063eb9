"""harness/results/mfu.py and harness/results/data/gpu_peaks.json: the nominal fp32 peaks, matched by the GPU
name a result records, and the MFU the host completes from them."""
import json

import pytest

from harness.results import mfu

# GPU names as CUDA / NVML report them
NAMES = {
    "Tesla K80": ("Tesla K80 (one GK210)", 4365.0),
    "Tesla P100-PCIE-16GB": ("Tesla P100 PCIe", 9300.0),
    "Tesla P100-SXM2-16GB": ("Tesla P100 SXM2", 10600.0),
    "Tesla V100-SXM2-16GB": ("Tesla V100 SXM2", 15700.0),
    "Tesla V100-PCIE-32GB": ("Tesla V100 PCIe", 14000.0),
    "Tesla V100S-PCIE-32GB": ("Tesla V100S PCIe", 16400.0),
    "NVIDIA A100-SXM4-80GB": ("A100", 19500.0),
    "NVIDIA A100 80GB PCIe": ("A100", 19500.0),
    "NVIDIA H100 80GB HBM3": ("H100 SXM", 67000.0),
    "NVIDIA H100 PCIe": ("H100 PCIe", 51000.0),
    "NVIDIA H100 NVL": ("H100 NVL", 60000.0),
    "NVIDIA H200": ("H200 SXM", 67000.0),
    "NVIDIA H200 NVL": ("H200 NVL", 60000.0),
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_known_gpus_match_their_data_sheet_peak(name):
    entry = mfu.nominal_for(name)
    assert entry is not None, name
    assert (entry["name"], entry["tflops_fp32"] * 1000.0) == NAMES[name]
    assert "data sheet" in entry["source"]


def test_unknown_gpu_and_cpu_have_no_nominal_peak():
    assert mfu.nominal_for("NVIDIA GeForce RTX 4090") is None
    assert mfu.nominal_for(None) is None and mfu.nominal_for("") is None
    cpu = {"device": "cpu", "env": {"gpu": None}, "mfu": {"achieved_gflops": 100.0}}
    assert mfu.complete(cpu)["mfu"] == {"achieved_gflops": 100.0}


def test_complete_fills_the_nominal_fields():
    r = {"device": "gpu", "env": {"gpu": "NVIDIA H100 80GB HBM3"},
         "mfu": {"achieved_gflops": 6700.0, "of_measured_peak": 0.2, "of_nominal_peak": None,
                 "nominal_peak_gflops": None, "nominal_source": None}}
    m = mfu.complete(r)["mfu"]
    assert m["of_nominal_peak"] == pytest.approx(0.1) and m["nominal_peak_gflops"] == 67000.0
    assert m["nominal_gpu"] == "H100 SXM" and "H100" in m["nominal_source"]
    # the GPU named by NVML when the framework did not name it
    r2 = {"device": "gpu", "env": {}, "energy": {"gpu": {"gpu": "Tesla K80", "joules": 1.0}},
          "mfu": {"achieved_gflops": 436.5}}
    assert mfu.complete(r2)["mfu"]["of_nominal_peak"] == pytest.approx(0.1)


def test_every_entry_is_complete():
    with open(mfu.PEAKS_PATH) as f:
        doc = json.load(f)
    for e in doc["gpus"]:
        assert e["tflops_fp32"] > 0 and e["match"] and e["source"] and e["name"]
