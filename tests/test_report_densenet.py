"""The report's DenseNet-121 tables: real and synthetic runs apart, the 1-device and N-device runs
of one image side by side beside 2017's 1xV100 / 4xV100 minutes, scaling efficiency and test AUC;
partial runs (--image-size, --batch-size) marked; a report with only the older tasks still
renders its DenseNet tables with the 2017 rows."""
import copy

import pytest

from harness import report, results
from test_report_data import CPU, RUN, result, write


def densenet(image, devices, seconds, ips_per_device, source="real", auc=0.81, repeat=1,
             valid=None, partial=False, status="ok"):
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
    doc["parallel"] = {"devices": devices, "per_device_batch": 64, "global_batch": 64 * devices,
                       "global_lr": 0.0001 * devices, "mode": "processes", "backend": "gloo"}
    doc["timings"] = {"train_seconds": seconds, "cell_seconds": seconds,
                      "images_per_second": ips_per_device * devices,
                      "images_per_second_per_device": ips_per_device, "batches": 10}
    if valid is not None:
        doc["timings"]["valid_seconds"] = valid
        doc["timings"]["train_val_seconds"] = seconds + sum(valid)
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
    # real data: the cell time plus the validation passes (2017 timed train + validation),
    # median of 1500 and 1560 s = 25.5 min; 2 replicas: 1200 s = 20 min
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
