"""The report's DenseNet-121 tables: real and synthetic runs apart, the 1-device and N-device runs
of one image side by side beside 2017's 1xV100 / 4xV100 minutes, scaling efficiency and test AUC;
partial runs (--image-size, --batch-size) marked; a report with only the older tasks still
renders its DenseNet tables with the 2017 rows."""
import copy

import pytest

from harness.results import report, results
from helpers.results import CPU, RUN, result, write


def densenet(image, devices, seconds, ips_per_device, source="real", auc=0.81, repeat=1,
             valid=None, partial=False, status="ok", images=None):
    doc = result(image, "cnn", 1.0, device="cpu", repeat=repeat, source=source, accuracy=0.5)
    doc = copy.deepcopy(doc)
    doc["task"] = "densenet"
    doc["params"] = {"epochs": 5, "batch_size": 64, "lr": 0.0001, "n_classes": 14,
                     "devices": devices, "per_device_batch": 64, "global_batch": 64 * devices,
                     "global_lr": 0.0001 * devices}
    if partial:
        doc["params"].update(image_size_override=32, batch_size_override=4)
    doc["model"]["parameters"] = 6968206
    doc["data"] = {"source": source, "limited": None,
                   "dataset": "chestxray14 (NIH)" if source == "real" else "synthetic"}
    if images:
        doc["data"]["images"] = images
    doc["parallel"] = {"devices": devices, "per_device_batch": 64, "global_batch": 64 * devices,
                       "global_lr": 0.0001 * devices, "mode": "processes", "backend": "gloo"}
    doc["timings"] = {"train_seconds": seconds, "cell_seconds": seconds,
                      "images_per_second": ips_per_device * devices,
                      "images_per_second_per_device": ips_per_device, "batches": 10}
    if valid is not None:  # the cell time spans the validation passes (protocol.train_loader)
        doc["timings"]["valid_seconds"] = valid
        doc["timings"]["train_val_seconds"] = seconds + sum(valid)
        doc["timings"]["cell_seconds"] = seconds + sum(valid)
    doc["metrics"] = {"test_accuracy": None, "test_auc": auc, "final_loss": 0.2,
                      "test_auc_per_label": [auc] * 14}
    doc["status"] = status
    if status != "ok":
        doc["reason"], doc["exit_code"] = "replica 1 of 2 failed (exit 1): boom", 1
    doc["provenance"]["run_id"] = RUN + "-%s-%d-%d" % (source, devices, repeat)
    return doc


@pytest.fixture
def view(tmp_path):
    docs = [
        densenet("pytorch-2.13", 1, 1200.0, 60.0, valid=[60.0] * 5),          # 21 min real
        densenet("pytorch-2.13", 1, 1260.0, 58.0, valid=[60.0] * 5, repeat=2),
        densenet("pytorch-2.13", 2, 900.0, 45.0, valid=[60.0] * 5),          # 2 replicas
        densenet("pytorch-2.13", 1, 600.0, 100.0, source="synthetic", auc=0.5),
        densenet("pytorch-2.13", 2, 600.0, 50.0, source="synthetic", auc=0.5, partial=True),
        densenet("tensorflow-2.21", 2, 1.0, 1.0, status="failed"),
    ]
    for d in docs:
        assert results.validate(d) == [], d["provenance"]["run_id"]
        write(str(tmp_path), d)
    view = report.build_view(str(tmp_path))
    view["results_href"] = "."
    return view


def section(view):
    assert [m["task"] for m in view["multi_gpu"]] == ["densenet"]
    return dict((t["source"], t) for t in view["multi_gpu"][0]["tables"])


def test_2017_rows_with_scaling_efficiency(view):
    tables = section(view)
    pytorch = [l for l in tables["real"]["lines"] if l["group"] == "PyTorch"][0]
    # 27 min on 1 V100, 10 on 4: efficiency 27 / (4 x 10)
    assert (pytorch["ref"]["one"], pytorch["ref"]["many"]) == (27, 10)
    assert pytorch["ref"]["efficiency"] == "68%" and pytorch["ref"]["auc_one"] == 0.8156
    names = [l["group"] for l in tables["synthetic"]["lines"] if l["group"]]
    assert names[:5] == ["PyTorch", "Keras(TF)", "Tensorflow", "Chainer", "MXNet(Gluon)"]


def test_one_and_n_devices_side_by_side(view):
    tables = section(view)
    rows = [l["row"] for l in tables["real"]["lines"]
            if l["row"] and l["row"]["label"] == "pytorch-2.13"]
    assert len(rows) == 1
    row = rows[0]
    assert row["hardware"].startswith(CPU) and row["n"] == 2
    # real data: the cell time, which spans the validation passes (2017 timed train +
    # validation in one cell), median of 1500 and 1560 s = 25.5 min; 2 replicas: 1200 s = 20 min
    assert (row["one"], row["one_runs"], row["many"], row["many_runs"]) == ("25.5", 2, "20.0", 1)
    # efficiency from images/s per device: 45 / median(60, 58) = 76%
    assert row["efficiency"] == "76%"
    assert row["auc_one"] == "0.810" and row["auc_many"] == "0.810"
    failed = [l["row"] for l in tables["real"]["lines"]
              if l["row"] and l["row"]["label"] == "tensorflow-2.21"][0]
    assert failed["failed"] and "replica 1 of 2 failed" in failed["failed"][0]


def test_synthetic_and_partial_runs_are_apart(view):
    rows = [l["row"] for l in section(view)["synthetic"]["lines"] if l["row"]]
    full = [r for r in rows if not r["partial"]]
    part = [r for r in rows if r["partial"]]
    assert len(full) == 1 and len(part) == 1 and all(r["synthetic"] for r in rows)
    assert full[0]["one"] == "10.0" and full[0]["many"] is None
    assert "crop 32 px of 224" in part[0]["partial"] and "batch 4 of 64" in part[0]["partial"]
    html, md = report.render(view)
    assert "Synthetic data in RAM" in md and "†synthetic" in md and "crop 32 px" in md
    assert "76%" in html and "DenseNet-121 training on ChestX-ray14" in html


def test_report_without_densenet_results_still_shows_the_2017_tables(tmp_path):
    write(str(tmp_path), result("pytorch-2.13", "cnn", 40.0, accuracy=0.77))
    view = report.build_view(str(tmp_path))
    view["results_href"] = "."
    tables = section(view)
    assert all(l["row"] is None for l in tables["real"]["lines"])
    html, md = report.render(view)
    assert "| PyTorch | 27 | 10 | 68% |" in md


def test_rows_carry_contention_flags_and_mfu(tmp_path):
    """A DenseNet row shows what the run's own checks flagged (CPU contention) and the MFU per
    device of its 1-device and N-device runs, as the first table's rows do."""
    flagged = densenet("pytorch-2.13", 1, 600.0, 10.0, source="synthetic", auc=0.5)
    flagged["provenance"]["contention"] = {
        "measured": True, "flagged": True, "cpus": 2, "other_cpus": 0.8, "own_cpus": 1.0,
        "threshold_cpus": 0.5, "other_containers": [], "other_container_count": 0}
    # 10 img/s x 12.2 GFLOP per training image = 122 GFLOP/s of a 200 GFLOP/s probe
    flagged["mfu"] = {"achieved_gflops": 122.0, "measured_peak_gflops": 200.0,
                      "of_measured_peak": 0.61, "nominal_peak_gflops": None,
                      "nominal_source": None, "of_nominal_peak": None}
    flagged["peak"] = {"gflops": 200.0, "method": "torch.mm on the CPU", "device": "cpu",
                       "dtype": "float32", "matrix": [2048, 2048, 2048], "best_seconds": 0.086,
                       "median_gflops": 198.0, "samples": 5, "inner": 1, "seconds": 0.7,
                       "threads": {"torch": 2}}
    quiet = densenet("tensorflow-2.21", 1, 600.0, 10.0, source="synthetic", auc=0.5)
    for d in (flagged, quiet):
        assert results.validate(d) == []
        write(str(tmp_path), d)
    view = report.build_view(str(tmp_path))
    view["results_href"] = "."
    rows = dict((l["row"]["label"], l["row"]) for l in section(view)["synthetic"]["lines"]
                if l["row"])
    assert rows["pytorch-2.13"]["mfu_one"] == "61%" and rows["pytorch-2.13"]["mfu_many"] is None
    assert rows["tensorflow-2.21"]["mfu_one"] is None and rows["tensorflow-2.21"]["flags"] == []
    assert rows["pytorch-2.13"]["flags"] == [
        "CPU contention: other work used 0.8 of 2 CPUs in 1 of 1 run"]
    html, md = report.render(view)
    assert "⚠ CPU contention: other work used 0.8 of 2 CPUs in 1 of 1 run" in md
    assert "| 61% / – |" in md and "MFU 1 / N" in html


PREPARED = {"read": "prepared", "folder": "images-264", "resize_on_read": None, "size": 264,
            "manifest_sha256": "a" * 64, "sources_sha256": "b" * 64, "count": 112120,
            "method": "PIL resize BILINEAR, then RGB", "pillow": "12.3.0"}
ORIGINALS = {"read": "originals", "folder": "images", "resize_on_read": 264,
             "why": "no prepared 264x264 copies (images-264/manifest.json)"}


def test_a_run_on_the_originals_is_marked_not_comparable_and_kept_apart(tmp_path):
    """2017's loaders decoded 264x264 copies made once; a real-data run that resized every
    1024 px original as it read it carries a note in its row (never silently beside 2017's
    minutes) and is not pooled with runs on the prepared copies; results from before
    data.images existed read the originals too."""
    docs = [densenet("pytorch-2.13", 1, 1200.0, 60.0, valid=[60.0] * 5, images=PREPARED),
            densenet("pytorch-2.13", 1, 2400.0, 30.0, valid=[60.0] * 5, images=ORIGINALS,
                     repeat=2),
            densenet("tensorflow-2.21", 1, 2400.0, 30.0, valid=[60.0] * 5),  # older result
            densenet("pytorch-2.13", 1, 600.0, 100.0, source="synthetic", auc=0.5, repeat=3)]
    for d in docs:
        assert results.validate(d) == [], d["provenance"]["run_id"]
        write(str(tmp_path), d)
    view = report.build_view(str(tmp_path))
    view["results_href"] = "."
    tables = section(view)
    rows = [l["row"] for l in tables["real"]["lines"] if l["row"]]
    torch = sorted((r for r in rows if r["label"] == "pytorch-2.13"),
                   key=lambda r: r["input_note"] is not None)
    assert len(torch) == 2  # not pooled: 21 min and 41 min stay two rows
    assert torch[0]["input_note"] is None and torch[0]["one"] == "25.0"
    assert "NOT comparable" in torch[1]["input_note"] and torch[1]["one"] == "45.0"
    old = [r for r in rows if r["label"] == "tensorflow-2.21"][0]
    assert old["input_note"] == report.ORIGINALS_NOTE
    assert all(l["row"]["input_note"] is None
               for l in tables["synthetic"]["lines"] if l["row"])
    html, md = report.render(view)
    assert md.count("≠2017: read the 1024 px originals") == 2
    assert html.count('data-images="originals"') == 2
    assert "dlbench data prepare chestxray14" in md
    # `dlbench results`: the DATA column says which images, and a legend line what that means
    lines = results.table(str(tmp_path))
    assert sum("real/264" in line for line in lines) == 1
    assert sum("real/orig" in line for line in lines) == 3  # 2 rows and the legend line
    assert lines[-1].startswith("real/orig: densenet read the ChestX-ray14 originals")


def test_densenet_rows_carry_the_model_equivalence_mark(tmp_path):
    """The newest `dlbench check-models` summary marks each DenseNet row of its image and
    variant (≡✓ with the family and max rel diff on hover, ≡✗ with the reason); a row no check
    covered shows ≡?; both tables, HTML and Markdown."""
    import json
    import os
    root = str(tmp_path)
    for d in (densenet("pytorch-2.13", 1, 1200.0, 60.0),
              densenet("tensorflow-2.21", 1, 600.0, 30.0, source="synthetic"),
              densenet("flax-0.12", 1, 600.0, 30.0, source="synthetic")):
        write(root, d)
    folder = os.path.join(root, "check-models")
    os.makedirs(folder)
    rows = [{"image": "pytorch-2.13", "variant": "reference", "task": "densenet",
             "adapter": "pytorch", "family": "densenet121-torchvision", "status": "ok",
             "reason": None, "max_rel_diff": 4.6e-7},
            {"image": "tensorflow-2.21", "variant": "reference", "task": "densenet",
             "adapter": "tensorflow", "family": "densenet121-torchvision", "status": "mismatch",
             "reason": "tensorflow (reference): logits (N, 14): max abs diff 0.01 > tolerance "
                       "0.0001"}]
    with open(os.path.join(folder, "20260101-000000-aaaa.json"), "w") as f:
        json.dump({"kind": "check-models", "id": "20260101-000000-aaaa", "tolerance": "t",
                   "rows": rows}, f)
    view = report.build_view(root)
    marks = dict((l["row"]["label"], l["row"]["equivalence"])
                 for t in view["multi_gpu"][0]["tables"] for l in t["lines"] if l["row"])
    assert marks["pytorch-2.13"]["mark"] == "✓"
    assert "densenet121-torchvision, max rel diff 4.6e-07" in marks["pytorch-2.13"]["title"]
    assert marks["tensorflow-2.21"]["mark"] == "✗"
    assert "max abs diff 0.01" in marks["tensorflow-2.21"]["title"]
    assert marks["flax-0.12"]["mark"] == "?"
    written = report.render_report(root)
    html_text = open(written["html"], encoding="utf-8").read()
    md = open(written["md"], encoding="utf-8").read()
    assert 'data-equivalence="ok" title="model equivalence ✓: family densenet121-torchvision' \
        in html_text
    assert 'data-equivalence="mismatch"' in html_text
    assert "pytorch-2.13 ≡✓" in md and "tensorflow-2.21 †synthetic ≡✗" in md
    assert "max abs diff 0.01 &gt; tolerance" in md or "max abs diff 0.01 > tolerance" in md


def test_densenet_rows_without_a_check_show_no_mark(view):
    assert all(l["row"]["equivalence"] is None for t in section(view).values()
               for l in t["lines"] if l["row"])


def test_synthetic_rows_show_no_auc(view):
    """Synthetic labels are random and its test images repeat the training pool: the AUC of a
    synthetic run means nothing, so its row shows none (2017's synthetic table has none)."""
    tables = section(view)
    synthetic = [l["row"] for l in tables["synthetic"]["lines"] if l["row"]]
    assert synthetic and all(r["auc_one"] is None and r["auc_many"] is None for r in synthetic)
    real = [l["row"] for l in tables["real"]["lines"] if l["row"] and l["row"]["auc_one"]]
    assert real  # the real-data rows keep theirs


def test_the_deviations_from_2017_are_in_the_row_notes(tmp_path):
    """Where a column cannot or does not yet do what its 2017 notebook did, the row note says
    so, in both reports (DenseNet's section too)."""
    write(str(tmp_path), densenet("pytorch-2.13", 1, 1200.0, 60.0, valid=[60.0] * 5))
    written = report.render_report(str(tmp_path))
    html = open(written["html"], encoding="utf-8").read().replace("&#39;", "'")
    md = open(written["md"], encoding="utf-8").read()
    for text in ("2017's PyTorch_MultiGPU used RandomResizedCrop(224)",
                 "which Keras 3's keras.applications.DenseNet121 refuses",
                 "2017's Gluon_CNN dropped 0.25 there",
                 "channels-first (NCHW) on GPUs, as 2017's Tensorflow_MultiGPU",
                 "channels-first (NCHW) on a GPU, as 2017's Tensorflow_CNN",
                 "the ddp variant runs DistributedDataParallel"):
        assert text in html, text
    md = md.replace("\\_", "_")
    assert "RandomResizedCrop(224)" in md and "Gluon_CNN dropped 0.25" in md
