"""`dlbench check-models` on the real Docker engine, for every image built here
(images/*/Dockerfile, the 2017-era ones excepted), discovered, never listed: every variant of
every task loads its structure family's canonical parameters inside its own image (hardened
containers), runs a tiny batch (one 32x32 CIFAR image, one 224x224 image, one GRU batch of 64, one 64x64
image through DenseNet-121)
and must match the numpy reference within the tolerance, with the canonical parameter count and
an export that gives back what it imported. A task file that has no equivalence block yet is
reported "not checked" (a failing status, so the command exits 1): this test accepts exactly
that and nothing else, until every adapter has the block. Needs an engine."""
import json
import os
import re

import pytest
from click.testing import CliRunner

from helpers import HANG_S
from harness.images import build
from harness.core import catalog, taskfiles
from harness.checks import check_models
from harness.results import results
from harness.cli import main

pytestmark = [pytest.mark.engine, pytest.mark.slow,
              pytest.mark.usefixtures("shared_compile_cache")]

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
IMAGES = [img.name for img in catalog.discover(os.path.join(ROOT, "images"))
          if img.era == "current"]


def has_block(task, adapter):
    decl = taskfiles.declaration(task, adapter, TASKS)
    return all(f in decl["functions"] for f in check_models.EQUIVALENCE_FUNCTIONS)


@pytest.mark.parametrize("name", IMAGES)
def test_check_models_every_variant(name, engine, tmp_path):
    img = catalog.lookup([name])[0]
    build.ensure_built(img, echo=lambda *a, **k: None)
    res = CliRunner().invoke(main, ["check-models", name, "--batch", "1", "--timeout",
                                    str(HANG_S), "--results-dir", str(tmp_path)])
    written = [f for f in os.listdir(str(tmp_path / "check-models")) if f.endswith(".json")]
    assert len(written) == 1, res.output
    summary = json.load(open(str(tmp_path / "check-models" / written[0])))
    assert results.validate(summary, check_models.load_schema()) == []
    rows = summary["rows"]
    covered = [t for t in img.tasks if t in check_models.OUTPUT_TASKS()]  # densenet too
    assert rows and set(r["task"] for r in rows) == set(covered), res.output
    # every CPU variant of every task is a row (GPU-only ones: rows marked not comparable)
    for task in covered:
        offered = img.offered_variants(task)
        assert sorted(r["variant"] for r in rows if r["task"] == task) == \
            sorted(v for v in img.variants if v in offered), task
    unchecked = []
    for r in rows:
        line = "%s %s/%s: %s %s" % (r["task"], r["adapter"], r["variant"], r["status"],
                                    r["reason"])
        if r["status"] == "not-comparable":
            assert "GPU-only" in r["reason"], line
        elif has_block(r["task"], r["adapter"]):
            assert r["status"] == "ok", line
            assert r["max_rel_diff"] <= 1e-4 and r["parameters"] == r["canonical_parameters"]
            assert r["output"] in ("logits (N, 10)", "final logits (N, 2)",
                                   "pooled features (N, 2048)", "logits (N, 14)")
        else:
            assert r["status"] == "not-checked" and "no " in r["reason"], line
            unchecked.append(line)
    assert (res.exit_code == 0) == (not unchecked), res.output
    assert "%d row(s)" % len(rows) in res.output


def test_a_broken_adapter_is_caught_in_its_image(engine, tmp_path, monkeypatch):
    """A scratch copy of the project whose TensorFlow CNN forgets the NHWC permutation of fc1's
    inputs on import (the classic layout slip): check-models, in the real image, says MISMATCH
    naming the adapter, the output and the size of the difference, and exits 1."""
    import shutil
    root = tmp_path / "project"
    for part in ("images", "tasks"):
        shutil.copytree(os.path.join(ROOT, part), str(root / part),
                        ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "tasks" / "cnn" / "tensorflow.py"
    text = path.read_text()
    # fc1's import converted as if it were fc2: transposed, its inputs left in NCHW order
    broken = re.sub(r"kernel\.assign\(canonical\.cnn_weight_to_nhwc\(name, ",
                    "kernel.assign(canonical.cnn_weight_to_nhwc(\"fc2\" if name == \"fc1\" "
                    "else name, ", text)
    assert broken != text
    path.write_text(broken)
    monkeypatch.setenv("DLBENCH_ROOT", str(root))
    img = catalog.lookup(["tensorflow-2.21"])[0]
    build.ensure_built(img, echo=lambda *a, **k: None)
    res = CliRunner().invoke(main, ["check-models", "tensorflow-2.21", "--task", "cnn",
                                    "--variant", "reference", "--timeout", str(HANG_S),
                                    "--results-dir", str(tmp_path / "results")])
    assert res.exit_code == 1, res.output
    line = [l for l in res.output.splitlines() if l.startswith("MISMATCH")]
    assert len(line) == 1, res.output
    assert "tensorflow-2.21 tensorflow/reference cnn: tensorflow (reference): logits (N, 10): " \
           "max abs diff" in line[0] and "> tolerance" in line[0], line[0]
