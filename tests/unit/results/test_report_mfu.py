"""The report's MFU and energy columns and the MFU chart: figures from the result files (the
fields tasks/run.py writes, the nominal share harness/results/mfu.py completes), "—" with the reason
where a result has none."""
import json
import os
import re
import sys

import jsonschema

from harness.results import mfu, report
from helpers.report import TableParser, md_tables
from helpers.results import CPU, GPU, result, write

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
if TASKS not in sys.path:
    sys.path.insert(0, TASKS)
from common import params  # noqa: E402
from measure import flops  # noqa: E402

SCHEMA = json.load(open(os.path.join(TASKS, "runtime", "result.schema.json")))
CNN_TRAIN = flops.train_flops("cnn", params.CNN)


def with_mfu(doc, peak_gflops, energy=None, absent=None):
    """doc with the fields tasks/run.py adds: flops, peak, mfu, energy."""
    doc["flops"] = flops.count(doc["task"], params.CNN)
    doc["peak"] = {"gflops": peak_gflops, "method": "torch.mm on the CPU", "matrix": [2048] * 3,
                   "seconds": 0.8, "dtype": "float32", "device": doc["device"], "threads": {},
                   "samples": 5, "inner": 1, "best_seconds": 0.07, "median_gflops": peak_gflops}
    doc["mfu"] = flops.mfu(doc["task"], doc["flops"], doc["timings"], doc["peak"])
    mfu.complete(doc)
    doc["energy"], doc["energy_absent_reason"] = energy, absent
    jsonschema.validate(doc, SCHEMA)
    return doc


def test_mfu_and_energy_cells_and_chart(tmp_path):
    root = str(tmp_path)
    # GPU (an H100 SXM, known to gpu_peaks.json): energy from NVML; CPU runs: RAPL unreadable
    gpu_energy = {"cpu_package": None, "cpu_package_absent_reason": "RAPL not readable (x)",
                  "gpu": {"joules": 5000.0, "joules_per_epoch": 500.0,
                          "joules_per_1000_images": 10.0, "source": "NVML", "gpu": GPU},
                  "gpu_absent_reason": None}
    gpu_energy.pop("gpu_absent_reason")
    docs = [with_mfu(result("pytorch-2.13", "cnn", s, repeat=r, accuracy=0.77), 30000.0,
                     gpu_energy) for r, s in enumerate((40.0, 41.0, 42.0), 1)]
    docs.append(with_mfu(result("flax-0.12", "cnn", 2400.0, device="cpu", accuracy=0.78),
                         200.0, None, "RAPL not readable (/sys/class/powercap: no intel-rapl "
                         "package domain)"))
    docs.append(result("tensorflow-2.21", "cnn", 60.0, accuracy=0.76))  # an older result
    for d in docs:
        write(root, d)
    written = report.render_report(root)
    html = open(written["html"], encoding="utf-8").read()
    parser = TableParser()
    parser.feed(html)
    rows = parser.rows

    pt = rows[("cnn", "PyTorch", "pytorch-2.13")]
    ips = 10 * (50000 // 64) * 64 / 41.0  # the median run
    achieved = ips * CNN_TRAIN / 1e9
    assert pt["hw0-mfu"] == report.percent(achieved / 30000.0) == "15 %"
    title = pt["hw0-mfu.title"]
    assert "achieved %.0f GFLOP/s" % achieved in title and "30000 GFLOP/s" in title
    assert "H100 SXM nominal fp32 peak" in title and report.percent(achieved / 67000.0) in title
    assert "6.7 %" in title
    assert pt["hw0-energy"] == "10.0" and "GPU (NVML) 10.0 J" in pt["hw0-energy.title"]

    fx = rows[("cnn", "", "flax-0.12")]
    cpu_achieved = 10 * (50000 // 64) * 64 / 2400.0 * CNN_TRAIN / 1e9
    assert fx["hw1-mfu"] == report.percent(cpu_achieved / 200.0) == "39 %"
    assert fx["hw1-energy"] == "—" and "no intel-rapl package domain" in fx["hw1-energy.title"]

    tf = rows[("cnn", "Tensorflow", "tensorflow-2.21")]
    assert tf["hw0-mfu"] == "—" and "no MFU recorded" in tf["hw0-mfu.title"]
    assert tf["hw0-energy"] == "—" and "no energy recorded" in tf["hw0-energy.title"]

    charts = re.findall(r'class="chart" id="([^"]+)"', html)
    assert "chart-cnn-mfu" in charts and "chart-rnn-mfu" not in charts  # no RNN run has one
    chart = html.split('id="chart-cnn-mfu"')[1].split("</svg>")[0]
    assert "MFU, higher is better" in chart and "this run: " + GPU in chart
    assert "2017" not in chart.split("</defs>")[1]  # 2017 published no FLOP rates

    md = open(written["md"], encoding="utf-8").read()
    cnn = md_tables(md)["CNN training: VGG-style network on CIFAR-10"]
    assert "MFU" in cnn[0] and "J/1000 img" in cnn[0]
    line = [x for x in md.splitlines() if x.startswith("| PyTorch | pytorch-2.13")][0]
    assert "| 15 % | 10.0 |" in line
    line = [x for x in md.splitlines() if "| flax-0.12" in x][0]
    assert "| 39 % | — |" in line and CPU in md


def test_a_cpu_rows_footnote_says_what_its_framework_module_measured_limits_it():
    """VARIANTS "cpu_limits" (the framework module, one place): the footnote of a CPU row of
    that variant and task carries it; a GPU row, another task and an unknown adapter do not."""
    sys.path.insert(0, TASKS)
    from frameworks import flax as flax_module
    declared = [v for v in flax_module.VARIANTS if v["name"] == "reference"][0]["cpu_limits"]
    cpu = result("flax-0.12", "cnn", 30.0, device="cpu")
    assert report.cpu_limit(cpu) == declared["cnn"] and "XLA" in declared["cnn"]
    assert report.cpu_limit(result("flax-0.12", "cnn", 30.0, device="gpu")) is None
    assert report.cpu_limit(result("flax-0.12", "rnn", 30.0, device="cpu")) is None
    assert report.cpu_limit(dict(cpu, adapter="nosuch")) is None


def test_every_declared_cpu_limit_names_a_task_its_variant_runs():
    from harness.core import taskfiles
    found = 0
    for name in taskfiles.adapter_names():
        fw = taskfiles.load(name)
        for v in fw.variants:
            for task, text in (v.get("cpu_limits") or {}).items():
                assert task in v.get("tasks", params.TASKS), (name, v["name"], task)
                assert "cpu" in v.get("devices", ["cpu"]), (name, v["name"])
                assert "GFLOP/s" in text or "img/s" in text, text  # a measured figure
                found += 1
    assert found >= 6


def test_the_report_footnote_shows_the_cpu_limit(tmp_path):
    root = str(tmp_path)
    write(root, result("flax-0.12", "cnn", 30.0, device="cpu"))
    out = tmp_path / "out"
    paths = report.render_report(root, str(out))
    md = open(paths["md"]).read()
    assert "what limits it on the CPU" in md and "XLA" in md
    assert "what limits it on the CPU" in open(paths["html"]).read()
