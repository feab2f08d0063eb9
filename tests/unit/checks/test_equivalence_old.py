"""Model equivalence (issue 15, point 1) of the older frameworks' columns, read from the files:
CNTK's task files' layer names (the cntk-2.7 image runs them through check-models in
tests/engine/test_engine_equivalence.py), and what check-models says of a column not run. The columns that run (mxnet Module and Gluon, chainer, theano, keras2 on Theano,
caffe2) are checked against the numpy reference by tests/engine/test_engine_equivalence.py, every
variant of every current image."""
import ast
import os

import pytest

from harness.core import catalog, taskfiles
from harness.checks import check_models

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")


def _layer_names(task, adapter):
    """The constant name= keywords of the calls in a task file."""
    path = os.path.join(TASKS, task, adapter + ".py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    return set(k.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
               for k in node.keywords if k.arg == "name" and isinstance(k.value, ast.Constant))


def _canonical():
    canonical, _ = taskfiles.common_modules(TASKS)
    return canonical


def _params(task):
    return taskfiles.import_task_file(os.path.join(TASKS, "common", "params.py"),
                                      "dlbench_task_params").for_task(task)


@pytest.mark.parametrize("task", ["cnn", "rnn"])
def test_cntk_names_its_layers_as_the_canonical_weights(task):
    """CNTK's export finds each layer by name: the names given are the canonical layers of the
    family the file declares, no more, no fewer."""
    canonical = _canonical()
    family = taskfiles.declaration(task, "cntk", TASKS)["equivalence"]["family"]
    layers = set(k.rsplit(".", 1)[0] for k in canonical.generate(family, _params(task)))
    # the RNN's CPU path also names its word-index input and its gathered embedding table
    # (the parameter named E either way), no layer of its own
    extra = {"words", "E"} if task == "rnn" else set()
    assert _layer_names(task, "cntk") == layers | extra


def test_cntk_inference_names_every_convolution_and_batch_norm():
    # the names are built in loops ("layer%d.%d"): the stem's literally, the rest by pattern
    src = open(os.path.join(TASKS, "inference", "cntk.py")).read()
    assert '("conv1", "bn1")' in src and '"layer%d.%d" % (stage + 1, i)' in src
    for part in ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample.0",
                 "downsample.1"):
        assert '".%s"' % part in src, part
    canonical = _canonical()
    keys = canonical.generate("resnet50-cntk", dict(_params("inference")))
    assert not [k for k in keys if k.endswith(".bias") and "bn" not in k
                and "downsample.1" not in k], "resnet50-cntk has bias-free convolutions"


def test_the_cntk_gru_family_is_reset_before_with_sigmoid_gates():
    canonical = _canonical()
    spec = canonical.FAMILIES["gru-reset-before-sigmoid"]
    assert (spec["form"], spec["gate"], spec["bias_hh"]) == ("reset_before", "sigmoid", False)
    assert canonical.not_comparable_reason("gru-reset-before", "gru-reset-before-sigmoid") \
        == "hard_sigmoid gates vs sigmoid gates"


def test_check_models_says_cntk_is_not_run():
    """When no image built here runs the cntk adapter (cntk-2.7 and the 2017 cntk image not
    built), check-models names the column not run (once), beside the images not built; an
    adapter some built image runs gets no such line."""
    images = catalog.discover()
    built = [i for i in images if "cntk" not in i.adapters]
    lines = check_models.not_built_lines([i.name for i in images if i not in built], built)
    assert ("cntk (cnn, rnn, inference): not run: no image built here runs CNTK (cntk, "
            "cntk-2.7 not built)") in lines
    assert [line for line in lines if "not run" in line] == [lines[1]]
    assert lines[0].startswith("cntk: not built here")
    assert check_models.not_built_lines(["cntk"], images) == [lines[0]]
