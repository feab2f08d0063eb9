"""Model equivalence (`dlbench check-models`), host side: the canonical format and the numpy
reference (tasks/common/canonical.py, reference.py) against the PyTorch adapter, run through the
container entry point tasks/check_model.py on the host (torch is installed here), for all three
tasks; a deliberately broken adapter is caught, naming adapter, output and the difference; the
parameter counts; the tolerance rule; the summary schema."""
import json
import re
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import HANG_S
from harness.checks import check_models
from harness.core import taskfiles

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
canonical, reference = taskfiles.common_modules(TASKS)
task_params = taskfiles.import_task_file(os.path.join(TASKS, "common", "params.py"),
                                         "dlbench_task_params")

FAMILY = {"cnn": "cnn-vgg", "rnn": "gru-reset-after", "inference": "resnet50-torchvision",
          "densenet": "densenet121-torchvision"}
BATCH = {"cnn": 2, "rnn": 64, "inference": 1, "densenet": 2}

needs_torch = pytest.mark.skipif(not shutil.which("python3") or
                                 subprocess.run([sys.executable, "-c", "import torch"],
                                                capture_output=True).returncode != 0,
                                 reason="torch is not installed on this host")


def prepare(tmp_path, task, seed=0):
    p = canonical.check_params(task, task_params.for_task(task))
    prm = canonical.generate(FAMILY[task], p, seed)
    x = canonical.make_input(task, p, BATCH[task], seed)
    canonical.save(str(tmp_path / "params.npz"), prm)
    np.savez(str(tmp_path / "input.npz"), x=x)
    return p, prm, x


def check_model(tasks_root, task, adapter, tmp_path, family=None):
    out = tmp_path / "out"
    job = ",".join((task, family or FAMILY[task], str(tmp_path / "params.npz"),
                    str(tmp_path / "input.npz")))
    proc = subprocess.run(
        [sys.executable, os.path.join(tasks_root, "check_model.py"), "--adapter", adapter,
         "--job", job, "--out", str(out)], capture_output=True, text=True, timeout=HANG_S)
    record = json.load(open(str(out / task / "check.json")))
    output = None
    if record["status"] == "ok":
        with np.load(str(out / task / "outputs.npz")) as f:
            output = f["output"]
    return proc, record, output


@needs_torch
@pytest.mark.parametrize("task", ["cnn", "rnn", "inference", "densenet"])
def test_pytorch_matches_the_numpy_reference(task, tmp_path):
    p, prm, x = prepare(tmp_path, task)
    proc, record, out = check_model(TASKS, task, "pytorch", tmp_path)
    assert proc.returncode == 0, proc.stderr
    ref = reference.forward(FAMILY[task], prm, x, p)
    status, reason, fields = check_models.verdict("pytorch", "reference", task, record, out, ref,
                                                  canonical.count(prm, FAMILY[task]), canonical)
    assert status == "ok", reason
    assert fields["max_rel_diff"] < 1e-5  # fp32 against float64: far inside the tolerance
    # the parameter count: the adapter's own count_parameters against the canonical one
    assert record["parameters"] == canonical.count(prm, FAMILY[task])
    assert record["export"] == {"ok": True, "problems": []}
    if task in ("cnn", "densenet"):
        assert canonical.count(prm, FAMILY[task]) == p["parameters"]
    if task == "densenet":  # logits at the check's image size, the batch it was given
        assert out.shape == (2, 14) and x.shape == (2, 3, 64, 64)


BREAKAGES = {
    # a kernel transposed (H <-> W) on import
    "cnn": ('params["conv2.weight"] = np.ascontiguousarray('
            'params["conv2.weight"].transpose(0, 1, 3, 2))', "logits"),
    # the reset and update gates swapped on import
    "rnn": ('params["gru.weight_hh"] = canonical.reorder_gates(params["gru.weight_hh"], '
            '"rzn", "zrn")', "final logits"),
    # one 3x3 kernel of the last dense block transposed (H <-> W) on import: the 64x64 input
    # leaves that block a 2x2 map, where the kernel's off-centre taps count
    "densenet": ('params["features.denseblock4.denselayer16.conv2.weight"] = '
                 'np.ascontiguousarray(params["features.denseblock4.denselayer16.conv2.weight"]'
                 '.transpose(0, 1, 3, 2))', "logits"),
}


@needs_torch
@pytest.mark.parametrize("task", sorted(BREAKAGES))
def test_a_broken_adapter_is_caught(task, tmp_path):
    """A scratch copy of the PyTorch task file whose import_params breaks one tensor: the check
    says mismatch, naming the adapter, the output and the size of the difference."""
    tasks_copy = str(tmp_path / "tasks")
    shutil.copytree(TASKS, tasks_copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = os.path.join(tasks_copy, task, "pytorch.py")
    breakage, output_name = BREAKAGES[task]
    with open(path, "a") as f:
        f.write("\n\n_import_params = import_params\n\n\ndef import_params(state, params):\n"
                "    params = dict(params)\n    %s  # deliberately broken\n"
                "    _import_params(state, params)\n" % breakage)
    p, prm, x = prepare(tmp_path, task)
    proc, record, out = check_model(tasks_copy, task, "pytorch", tmp_path)
    assert proc.returncode == 0, proc.stderr  # it ran; the host judges
    ref = reference.forward(FAMILY[task], prm, x, p)
    status, reason, fields = check_models.verdict("pytorch", "reference", task, record, out, ref,
                                                  canonical.count(prm, FAMILY[task]), canonical)
    assert status == "mismatch"
    assert reason.startswith("pytorch (reference): " + output_name), reason
    assert "max abs diff" in reason and fields["max_abs_diff"] > fields["tolerance"]
    # the export gives back what the model holds, which is no longer what was imported
    assert "export_params" in reason


def test_a_wrong_parameter_count_is_a_mismatch():
    record = {"status": "ok", "parameters": 10, "export": {"ok": True, "problems": []}}
    status, reason, _ = check_models.verdict("x", "v", "cnn", record, np.zeros((2, 10)),
                                             np.zeros((2, 10)), 11, canonical)
    assert status == "mismatch" and "parameter count 10, canonical 11" in reason


def test_the_tolerance_rule():
    ref = np.array([[10.0, -2.0]])
    assert canonical.compare(ref, ref + 9e-4)["ok"]           # 1e-4 x 10
    assert not canonical.compare(ref, ref + 1.1e-3)["ok"]
    small = np.array([[0.1]])                                 # scale floor: 1
    assert canonical.compare(small, small + 9e-5)["ok"]
    assert not canonical.compare(small, small + 2e-4)["ok"]
    assert canonical.compare(ref, ref[:, :1])["problem"].startswith("shape")
    assert canonical.compare(ref, ref * np.nan)["problem"] == "non-finite values in the output"


def test_not_checked_and_failed_records():
    status, reason, _ = check_models.verdict(
        "mxnet", "module", "cnn", {"status": "not-checked",
                                   "reason": "not checked: no import_params"},
        None, None, 1, canonical)
    assert (status, reason) == ("not-checked", "not checked: no import_params")
    status, reason, _ = check_models.verdict("a", "v", "cnn", {"status": "failed",
                                                               "reason": "boom"},
                                             None, None, 1, canonical)
    assert (status, reason) == ("failed", "boom")


def test_layout_helpers_are_inverse():
    rng = np.random.RandomState(0)
    w = rng.rand(5, 3 * 4 * 4)
    assert np.array_equal(canonical.dense_nhwc_to_nchw(
        canonical.dense_nchw_to_nhwc(w, 3, 4, 4), 3, 4, 4), w)
    # the permutation is the one an NHWC flatten needs
    fmap = rng.rand(1, 3, 4, 4)
    assert np.allclose(fmap.reshape(1, -1).dot(w.T),
                       fmap.transpose(0, 2, 3, 1).reshape(1, -1).dot(
                           canonical.dense_nchw_to_nhwc(w, 3, 4, 4).T))
    k = rng.rand(6, 3, 3, 2)
    assert np.array_equal(canonical.hwio_to_oihw(canonical.oihw_to_hwio(k)), k)
    g = np.arange(9.0)
    assert list(canonical.reorder_gates(g, "rzn", "zrn")) == [3, 4, 5, 0, 1, 2, 6, 7, 8]
    assert canonical.cnn_flat_shape(6400, 100) == (100, 8, 8)
    with pytest.raises(ValueError):
        canonical.cnn_flat_shape(5000, 100)


def test_check_keys_names_what_is_missing_and_extra():
    with pytest.raises(KeyError) as e:
        canonical.check_keys({"a": 1, "c": 2}, ["a", "b"])
    assert "missing b" in str(e.value) and "unexpected c" in str(e.value)


def test_every_family_has_a_reference_and_the_declared_counts():
    """The canonical count of each family is the parameter count the task files declare for
    the networks of that family (tasks/inference/*.py PARAMETERS, tasks/rnn PARAMETERS); every
    family (those added later too) draws a set and has a finite reference output."""
    counts = {"resnet50-torchvision": 23561152, "resnet50-tfslim": 23561152,
              "resnet50-keras": 23587712, "resnet50-keras2": 23587712,
              "resnet50-keras2.1": 23587712,
              "resnet50-caffe": 23561216, "resnet50-gluon-v1": 23580032,
              "resnet50-mxnet-preact": 23546060, "resnet50-cntk": 23561152,
              "gru-reset-after": 3818302, "gru-reset-after-h0": 3824702,
              "gru-reset-after-input-bias": 3818002, "gru-reset-before": 3818002,
              "gru-reset-before-sigmoid": 3818002,
              "cnn-vgg": 3441592,
              # trainable weights only (the 6,968,206: torchvision's and Keras's count)
              "densenet121-torchvision": 6968206, "densenet121-keras": 6968206}
    assert set(counts) <= set(canonical.FAMILIES)
    for family, spec in canonical.FAMILIES.items():
        p = canonical.check_params(spec["task"], task_params.for_task(spec["task"]))
        prm = canonical.generate(family, p, 0)
        if family in counts:
            assert canonical.count(prm, family) == counts[family], family
        x = canonical.make_input(spec["task"], p, 64 if spec["task"] == "rnn" else 1, 0)
        out = reference.forward(family, prm, x, p)
        assert out.shape[0] == x.shape[0] and np.all(np.isfinite(out)), family


@pytest.mark.parametrize("family", ["resnet50-tfslim", "resnet50-keras",
                                    "resnet50-mxnet-preact", "resnet50-caffe"])
def test_resnet_references_are_O1_and_differ(family):
    """Each ResNet family's reference gives finite O(1) features (the scaling keeps the
    activations bounded) that differ from torchvision's on the same input: the structures are
    really different, hence 'not comparable'."""
    p = task_params.for_task("inference")
    x = canonical.make_input("inference", p, 1, 0)
    out = reference.forward(family, canonical.generate(family, p, 0), x, p)
    assert out.shape == (1, 2048) and np.all(np.isfinite(out))
    assert 0.05 < np.max(np.abs(out)) < 50
    reason = canonical.not_comparable_reason(family, "resnet50-torchvision")
    assert reason and "vs" in reason


def test_not_comparable_reasons_name_the_difference():
    r = canonical.not_comparable_reason("gru-reset-after", "gru-reset-before")
    assert "reset_after GRU vs reset_before GRU" in r
    r = canonical.not_comparable_reason("resnet50-torchvision", "resnet50-keras")
    assert "stride on the 3x3 convolution vs stride on the 1x1 convolution" in r
    assert "BN eps 1e-05 vs BN eps 1.001e-05" in r
    assert canonical.not_comparable_reason("cnn-vgg", "cnn-vgg") is None


def test_the_summary_schema_accepts_a_summary_and_rejects_a_bad_status():
    from harness.results import results
    schema = check_models.load_schema()
    row = {"image": "pytorch-2.13", "adapter": "pytorch", "variant": "reference",
           "task": "cnn", "family": "cnn-vgg", "status": "ok", "reason": None,
           "max_rel_diff": 3e-7, "parameters": 3441592}
    doc = {"schema_version": 1, "kind": "check-models", "id": "x", "started": "s",
           "finished": "f", "host": {"cpu": "c", "load": [1.0, 1.0, 1.0], "cpus": 2},
           "tolerance": canonical.TOLERANCE_RULE, "seed": 0, "batch": {"cnn": 2},
           "families": {"cnn-vgg": {"task": "cnn", "doc": "d", "canonical_parameters": 1,
                                    "members": ["pytorch/reference"]}},
           "not_comparable": [], "not_built": [], "rows": [row], "ok": True}
    assert results.validate(doc, schema) == []
    row["status"] = "fine"
    assert results.validate(doc, schema)


def test_adapters_without_the_block_are_reported_not_checked():
    """declaration() reads a task file with ast: a file without import_params has no family
    to check (check-models reports it 'not checked: no import_params', a failing status)."""
    decl = taskfiles.declaration("cnn", "pytorch", TASKS)
    assert check_models.family_of(decl, "reference") == "cnn-vgg"
    assert all(f in decl["functions"] for f in check_models.EQUIVALENCE_FUNCTIONS)
    assert "not-checked" in check_models.FAILING


def test_the_report_shows_the_latest_equivalence_status_per_row(tmp_path):
    """The newest results/check-models/<id>.json gives each (image, variant, task) row its mark:
    ✓, ✗ or n/c, with the reason on hover (title) and in the row's footnote; a row the check did
    not cover says so."""
    from harness.results import report
    from helpers.results import make_results
    root = str(tmp_path)
    make_results(root)
    folder = os.path.join(root, "check-models")
    os.makedirs(folder)
    rows = [{"image": "pytorch-2.13", "variant": "reference", "task": "cnn", "adapter": "pytorch",
             "family": "cnn-vgg", "status": "ok", "reason": None, "max_rel_diff": 3e-7},
            {"image": "tensorflow-2.21", "variant": "reference", "task": "cnn",
             "adapter": "tensorflow", "family": "cnn-vgg", "status": "mismatch",
             "reason": "tensorflow (reference): logits (N, 10): max abs diff 0.5 > tolerance "
                       "0.0003"},
            {"image": "keras-3.15", "variant": "jax", "task": "cnn", "adapter": "keras3",
             "family": None, "status": "not-comparable",
             "reason": "GPU-only variant: not comparable at fp32 tolerance"}]
    old = {"kind": "check-models", "id": "20200101-000000-aaaa", "tolerance": "t",
           "rows": [dict(rows[0], status="mismatch", reason="old")]}
    new = {"kind": "check-models", "id": "20260101-000000-bbbb", "tolerance": "t",
           "rows": rows}
    for doc in (old, new):
        with open(os.path.join(folder, doc["id"] + ".json"), "w") as f:
            json.dump(doc, f)
    written = report.render_report(root)
    html_text = open(written["html"], encoding="utf-8").read()
    md = open(written["md"], encoding="utf-8").read()
    assert 'data-equivalence="ok" title="model equivalence ✓: family cnn-vgg, max rel diff ' \
           '3.0e-07' in html_text
    assert 'data-equivalence="mismatch"' in html_text and "max abs diff 0.5" in html_text
    assert 'data-equivalence="not-comparable"' in html_text
    assert "old" not in re.findall(r'data-equivalence="[^"]*" title="([^"]*)"', html_text)
    # rows no check covered, e.g. the RNN rows
    assert 'data-equivalence="none" title="model equivalence: not in any check-models ' \
           'summary (newest: 20260101-000000-bbbb)"' in html_text
    # a later check of one image keeps the other images' marks from the earlier one
    later = {"kind": "check-models", "id": "20270101-000000-cccc", "tolerance": "t",
             "rows": [dict(rows[0], max_rel_diff=5e-7)]}
    with open(os.path.join(folder, later["id"] + ".json"), "w") as f:
        json.dump(later, f)
    html_text = open(report.render_report(root)["html"], encoding="utf-8").read()
    assert "max rel diff 5.0e-07" in html_text and "max abs diff 0.5" in html_text
    assert "≡✓" in md and "≡✗" in md and "≡n/c" in md and "≡?" in md
    assert "max abs diff 0.5 &gt; tolerance" in md  # the reason, in the footnote (escaped)


def test_the_report_without_a_check_shows_no_marks(tmp_path):
    from harness.results import report
    from helpers.results import make_results
    make_results(str(tmp_path))
    written = report.render_report(str(tmp_path))
    assert "data-equivalence" not in open(written["html"], encoding="utf-8").read()


@needs_torch
def test_one_process_checks_several_tasks_and_reports_a_file_without_the_block(tmp_path):
    """check_model.py starts the adapter once and runs each --job; a task file without the
    three functions gets "not-checked" (exit 1), the others still run."""
    tasks_copy = str(tmp_path / "tasks")
    shutil.copytree(TASKS, tasks_copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = os.path.join(tasks_copy, "rnn", "pytorch.py")
    text = open(path).read()
    with open(path, "w") as f:  # the file as it was before the block
        f.write(text[:text.index("# model equivalence")])
    jobs = []
    for task in ("cnn", "rnn"):
        p = task_params.for_task(task)
        canonical.save(str(tmp_path / (task + ".npz")), canonical.generate(FAMILY[task], p, 1))
        np.savez(str(tmp_path / ("x-%s.npz" % task)),
                 x=canonical.make_input(task, p, BATCH[task], 1))
        jobs += ["--job", ",".join((task, FAMILY[task], str(tmp_path / (task + ".npz")),
                                    str(tmp_path / ("x-%s.npz" % task))))]
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, os.path.join(tasks_copy, "check_model.py"),
                           "--adapter", "pytorch", "--out", str(out)] + jobs,
                          capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 1
    cnn = json.load(open(str(out / "cnn" / "check.json")))
    rnn = json.load(open(str(out / "rnn" / "check.json")))
    assert cnn["status"] == "ok" and cnn["parameters"] == 3441592
    assert rnn["status"] == "not-checked"
    assert rnn["reason"] == ("not checked: no export_params, import_params, outputs in "
                             "tasks/rnn/pytorch.py")
    assert "not checked" in proc.stderr


def test_a_bad_job_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(TASKS, "check_model.py"), "--adapter",
                           "pytorch", "--job", "cnn,cnn-vgg", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 2 and "give TASK,FAMILY,PARAMS,INPUT" in proc.stderr


def test_rows_cover_every_variant_and_gpu_only_ones_are_not_comparable():
    """plan_rows: every variant of every task of an image is a row; TF32 / mixed-precision
    variants (GPU-only) are rows marked not comparable at fp32 tolerance, with the reason."""
    from harness.core import catalog
    img = catalog.lookup(["pytorch-2.13"])[0]
    rows = check_models.plan_rows([img], (), ("all",), print)
    by = dict(((r.task, r.variant), r.record) for r in rows)
    # every task with a canonical output: all of them, DenseNet-121 included
    assert "densenet" in img.tasks and "densenet" in check_models.OUTPUT_TASKS()
    assert set(t for t, _ in by) == set(img.tasks)
    assert by[("densenet", "reference")]["status"] == "failed"  # not run yet
    assert by[("densenet", "tf32")]["status"] == "not-comparable"
    assert by[("cnn", "reference")]["status"] == "failed"  # not run yet
    assert by[("cnn", "tf32")]["status"] == "not-comparable"
    assert "not comparable at fp32 tolerance" in by[("cnn", "tf32")]["reason"]
    only = check_models.plan_rows([img], ("cnn",), ("tuned",), print)
    assert [(r.task, r.variant) for r in only] == [("cnn", "tuned")]
    with pytest.raises(Exception) as e:
        check_models.plan_rows([img], (), ("nosuch",), print)
    assert "has no variant nosuch" in str(e.value)


def test_the_flops_hook_reads_tasks_common_flops(tmp_path, monkeypatch):
    """Per-example forward FLOPs come from tasks/measure/flops.py (issue 15's MFU work:
    forward_flops(task, p, structure), structure naming where ResNet-50 strides); without that
    module the summary says "pending"."""
    p = task_params.for_task("inference")
    root = tmp_path / "project"
    (root / "images").mkdir(parents=True)
    (root / "tasks" / "measure").mkdir(parents=True)
    monkeypatch.setenv("DLBENCH_ROOT", str(root))
    value, note = check_models.forward_flops("inference", "resnet50-tfslim", p, canonical)
    assert value is None and note.startswith("pending")
    (root / "tasks" / "measure" / "flops.py").write_text(
        "def forward_flops(task, p, structure=None):\n"
        "    return {'torchvision': 1, 'stride-on-1x1': 2, 'slim': 3, None: 4}[structure]\n")
    assert check_models.forward_flops("inference", "resnet50-tfslim", p, canonical)[0] == 3
    assert check_models.forward_flops("inference", "resnet50-keras", p, canonical)[0] == 2
    assert check_models.forward_flops("inference", "resnet50-mxnet-preact", p, canonical)[0] == 1
    assert check_models.forward_flops("cnn", "cnn-vgg", task_params.for_task("cnn"),
                                      canonical)[0] == 4


def test_densenet_families_names_and_counts():
    """DenseNet-121's canonical set: torchvision's densenet121 names (the PyTorch column's
    state_dict, checked by test_pytorch_matches_the_numpy_reference), 6,968,206 trainable values
    plus 83,648 running statistics (the check counts the trainable ones, as the task does); the
    two families differ only by the batch-norm eps."""
    p = canonical.check_params("densenet", task_params.for_task("densenet"))
    assert (p["height"], p["width"]) == (64, 64)
    assert task_params.for_task("densenet")["height"] == 224  # the task's own is untouched
    prm = canonical.generate("densenet121-torchvision", p, 0)
    assert canonical.count(prm, "densenet121-torchvision") == p["parameters"] == 6968206
    assert canonical.count(prm) == 6968206 + 83648
    assert prm["classifier.weight"].shape == (14, 1024)
    assert prm["features.denseblock4.denselayer16.conv2.weight"].shape == (32, 128, 3, 3)
    assert prm["features.transition3.conv.weight"].shape == (512, 1024, 1, 1)
    units = canonical.densenet_units(p)
    assert [u[0] for u in units] == canonical.densenet_unit_names([u[1] for u in units])
    assert len(units) == 6 + 12 + 24 + 16 + 3 and canonical.densenet_features(p) == 1024
    assert canonical.not_comparable_reason("densenet121-torchvision", "densenet121-keras") == \
        "BN eps 1e-05 vs BN eps 1.001e-05"
    assert canonical.not_comparable_reason("densenet121-keras",
                                           "resnet50-keras") == "different tasks"


def test_densenet_reference_is_O1_and_sensitive():
    """The reference logits are O(1) (the tolerance's floor is 1, so 1e-4 is tight), and a
    single transposed 3x3 kernel in the LAST dense block moves them far beyond the tolerance."""
    p = canonical.check_params("densenet", task_params.for_task("densenet"))
    family = "densenet121-torchvision"
    prm = canonical.generate(family, p, 0)
    x = canonical.make_input("densenet", p, 2, 0)
    ref = reference.forward(family, prm, x, p)
    assert ref.shape == (2, 14) and np.all(np.isfinite(ref))
    assert 0.3 < np.max(np.abs(ref)) < 10
    name = "features.denseblock4.denselayer16.conv2.weight"
    broken = dict(prm)
    broken[name] = np.ascontiguousarray(prm[name].transpose(0, 1, 3, 2))
    cmp = canonical.compare(ref, reference.forward(family, broken, x, p))
    assert not cmp["ok"] and cmp["max_abs_diff"] > 10 * cmp["tolerance"]


def test_a_job_output_that_is_no_plain_array_fails_its_row(tmp_path):
    """An adapter whose outputs() returned its framework's array (saved as an object array)
    made check-models end in a traceback; now that row fails with the reason."""
    np.savez(str(tmp_path / "outputs.npz"), output=np.array([object()], dtype=object))
    record, out = check_models.job_output(str(tmp_path), {"status": "ok", "parameters": 1})
    assert out is None and record["status"] == "failed"
    assert record["reason"].startswith("outputs.npz unreadable (ValueError): Object arrays")
    np.savez(str(tmp_path / "outputs.npz"), output=np.ones((2, 3), np.float32))
    record, out = check_models.job_output(str(tmp_path), {"status": "ok"})
    assert record == {"status": "ok"} and out.shape == (2, 3)
    assert check_models.job_output(str(tmp_path), {"status": "failed"})[1] is None
