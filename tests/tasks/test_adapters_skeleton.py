"""Every adapter is a column of the Rosetta Stone. tasks/frameworks/<adapter>.py holds what the
framework's task files share; tasks/<task>/<adapter>.py holds only the task's functions, the same
ones in the same order as tasks/<task>/pytorch.py, so two files diff down to the framework.
Adapters are discovered (every file in tasks/frameworks/), never listed here. Task files are
read with ast (no framework imported); framework modules are imported, as the host does."""
import ast
import os
import sys

import pytest

from harness.core import taskfiles

from helpers.taskfiles import declared

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
REFERENCE = "pytorch"
TRAINING = ["build_model", "count_parameters", "build_trainer", "train_step", "to_float",
            "predict", "sync"]
# DenseNet-121 on ChestX-ray14: training with the framework's own data loader and several
# devices. start_devices joins or builds the data-parallel group (PyTorch: one process per
# device, torch.distributed; TensorFlow: MirroredStrategy in one process), make_loader is the
# framework's loader (decode, resize, crop, flip, normalise in its workers), predict returns
# the 14 sigmoid probabilities (the runner computes the AUC), stop_devices leaves the group.
DENSENET = ["start_devices", "build_model", "count_parameters", "build_trainer", "make_loader",
            "train_step", "to_float", "predict", "sync", "stop_devices"]
CONTRACT = {"cnn": TRAINING, "rnn": TRAINING,
            "inference": ["build_model", "count_parameters", "load_weights", "predict", "sync"],
            "densenet": DENSENET}
# model equivalence (`dlbench check-models`): a trailing block after sync, all three in this order
# or none (a file without them is reported "not checked: no import_params" by the check)
EQUIVALENCE_FUNCTIONS = ["export_params", "import_params", "outputs"]
# the columns every task has besides pytorch (densenet: also MXNet and Chainer, issue 16)
OTHER_COLUMNS = {"densenet": {"tensorflow", "keras3", "flax", "mxnet", "chainer"}}
FRAMEWORK_FUNCTIONS = ["load", "version", "probe", "init"]
FRAMEWORK_CONSTANTS = ["NAME", "PACKAGES", "VARIANTS", "DEVICE"]


def adapters(task):
    return [fw.adapter for fw in taskfiles.discover(TASKS) if task in fw.tasks()]


def parse(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def task_tree(task, adapter):
    return parse(os.path.join(TASKS, task, adapter + ".py"))


def public_functions(tree):
    return [n.name for n in tree.body
            if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]


def assigned(tree):
    return [n.targets[0].id for n in tree.body if isinstance(n, ast.Assign)
            and isinstance(n.targets[0], ast.Name)]


def signature(tree, name):
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name][0]
    return [a.arg for a in fn.args.args]


PAIRS = [(t, a) for t in taskfiles.task_names(TASKS) for a in adapters(t) if a != REFERENCE]
ADAPTERS = taskfiles.adapter_names(TASKS)


def test_every_task_file_has_a_framework_module():
    for task in taskfiles.task_names(TASKS):
        for name in os.listdir(os.path.join(TASKS, task)):
            if name.endswith(".py") and not name.startswith("_"):
                assert name[:-3] in ADAPTERS, "tasks/%s/%s has no tasks/frameworks/%s" % (
                    task, name, name)


def test_there_are_other_columns_than_pytorch():
    for task in taskfiles.task_names(TASKS):
        expected = OTHER_COLUMNS.get(task, {"tensorflow", "keras3", "flax"})
        assert expected <= set(adapters(task)), task


# the tasks `dlbench check-models` covers (every task: DenseNet-121 too)
EQUIVALENCE_TASKS = ("cnn", "rnn", "inference", "densenet")


def test_the_reference_column_is_the_contract():
    for task in taskfiles.task_names(TASKS):
        block = EQUIVALENCE_FUNCTIONS if task in EQUIVALENCE_TASKS else []
        assert public_functions(task_tree(task, REFERENCE)) == CONTRACT[task] + block


def test_every_adapter_has_the_equivalence_block():
    """Every task file of the tasks check-models covers exports, imports and gives outputs
    (a drop-in framework without them is reported "not checked" by check-models, and fails here),
    unless it says why not in NOT_CHECKED (a column never run here: knet's RNN and inference),
    which check-models then reports."""
    missing = ["%s/%s.py" % (task, adapter) for task in EQUIVALENCE_TASKS
               for adapter in adapters(task)
               if not set(EQUIVALENCE_FUNCTIONS) <= set(public_functions(task_tree(task, adapter)))
               and not declared(task, adapter, "NOT_CHECKED")]
    assert missing == []
    excused = [(task, adapter) for task in EQUIVALENCE_TASKS for adapter in adapters(task)
               if declared(task, adapter, "NOT_CHECKED")]
    assert excused == [("rnn", "knet"), ("inference", "knet")]


# optional, right after train_step: the epoch handed to the framework (2017's Keras fit), with
# train_step's arguments (x, y: the epoch's shuffled complete batches)
EPOCH_STEP = "train_epoch"


def contract_of(functions, task):
    """The task's functions (train_epoch after train_step where the file has it), then either
    the whole equivalence block or none of it."""
    contract = list(CONTRACT[task])
    if EPOCH_STEP in functions and "train_step" in contract:
        contract.insert(contract.index("train_step") + 1, EPOCH_STEP)
    if any(name in functions for name in EQUIVALENCE_FUNCTIONS):
        return contract + EQUIVALENCE_FUNCTIONS
    return contract


def test_the_equivalence_block_is_all_or_nothing():
    assert contract_of(["build_model", "outputs"], "cnn") == TRAINING + EQUIVALENCE_FUNCTIONS
    assert contract_of(TRAINING, "cnn") == TRAINING
    with_epoch = contract_of(["train_epoch"], "rnn")
    assert with_epoch[with_epoch.index("train_step") + 1] == "train_epoch"
    assert "train_epoch" not in contract_of(["train_epoch"], "inference")


@pytest.mark.parametrize("task,adapter", PAIRS)
def test_same_public_functions_in_the_same_order(task, adapter):
    functions = public_functions(task_tree(task, adapter))
    assert functions == contract_of(functions, task)


@pytest.mark.parametrize("task,adapter", PAIRS)
def test_same_arguments(task, adapter):
    tree, ref = task_tree(task, adapter), task_tree(task, REFERENCE)
    for name in contract_of(public_functions(tree), task):
        expected = signature(ref, "train_step" if name == EPOCH_STEP else name)
        assert signature(tree, name) == expected, name


@pytest.mark.parametrize("task,adapter", PAIRS + [(t, REFERENCE) for t in CONTRACT])
def test_an_adapter_with_the_equivalence_block_declares_its_family(task, adapter):
    """EQUIVALENCE = {"family": ..., optional "variants": {variant: family}}: families of
    tasks/common/canonical.py for this task; every variant named is the framework's."""
    if "import_params" not in public_functions(task_tree(task, adapter)):
        return
    import numpy  # noqa: F401  (canonical.py needs it; the host has it)
    canonical = taskfiles.import_task_file(os.path.join(TASKS, "common", "canonical.py"),
                                           "dlbench_task_canonical")
    eq = declared(task, adapter, "EQUIVALENCE")
    assert isinstance(eq, dict) and set(eq) <= {"family", "variants"}, \
        "tasks/%s/%s.py: EQUIVALENCE = {\"family\": ...} missing or malformed" % (task, adapter)
    fw = taskfiles.load(adapter, TASKS)
    for variant, family in [(None, eq["family"])] + sorted(eq.get("variants", {}).items()):
        assert family in canonical.FAMILIES, family
        assert canonical.FAMILIES[family]["task"] == task, (family, task)
        assert variant is None or variant in fw.variant_names(task), variant


@pytest.mark.parametrize("task,adapter", PAIRS + [(t, REFERENCE) for t in CONTRACT])
def test_task_files_keep_no_framework_preamble(task, adapter):
    """What a framework shares lives in its framework module, never in a task file again."""
    tree = task_tree(task, adapter)
    names = set(assigned(tree)) | set(n.name for n in tree.body
                                      if isinstance(n, ast.FunctionDef))
    for shared in FRAMEWORK_CONSTANTS + FRAMEWORK_FUNCTIONS + ["FRAMEWORK",
                                                               "framework_version"]:
        assert shared not in names, "tasks/%s/%s.py defines %s" % (task, adapter, shared)
    assert "os.environ" not in ast.dump(tree) and "environ" not in open(
        os.path.join(TASKS, task, adapter + ".py")).read()
    settings = [n for n in tree.body if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", None) == "SETTINGS"]
    assert settings, "tasks/%s/%s.py: no SETTINGS" % (task, adapter)
    value = ast.literal_eval(settings[0].value)
    assert isinstance(value.get("layout"), str) and value["layout"]


@pytest.mark.parametrize("adapter", adapters("inference"))
def test_every_inference_file_declares_its_resnet(adapter):
    """Each framework runs the ResNet-50 its 2017 notebook used, so the counts differ: the task
    file declares its count once (PARAMETERS, asserted by tasks/run.py before timing) and names
    the network (SETTINGS["network"], recorded in the result)."""
    expected = declared("inference", adapter, "PARAMETERS")
    assert isinstance(expected, int) and not isinstance(expected, bool), \
        "tasks/inference/%s.py declares no PARAMETERS = <int>" % adapter
    # ResNet-50 without its classifier: 23.5M trainable weights in every variant, plus 53,120
    # batch-norm statistics
    assert 23500000 <= expected <= 23600000, expected
    network = declared("inference", adapter, "SETTINGS")["network"]
    assert isinstance(network, str) and network


def test_declared_resnet_counts_follow_the_2017_networks():
    """keras.applications' ResNet50 (biased convolutions) as Keras(TF) ran it in 2017; TF-slim's
    resnet_v1_50 and torchvision's resnet50 (bias-free) hold the same number of weights."""
    assert declared("inference", "keras3", "PARAMETERS") == 23587712
    for adapter in ("tensorflow", "tensorflow1", "pytorch", "flax"):
        assert declared("inference", adapter, "PARAMETERS") == 23561152, adapter
    # MXNet(Module): MXNet's pre-activation resnet-50 checkpoint network (53 batch-norms over
    # 22,787 channels, bias-free convolutions); MXNet(Gluon): model zoo resnet50_v1 (torchvision's
    # count plus the 18,880 biases of the bottlenecks' 1x1 convolutions)
    assert declared("inference", "mxnet", "PARAMETERS") == 23454912 + 4 * 22787
    assert declared("inference", "mxnet", "PARAMETERS_GLUON") == 23561152 + 18880


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_framework_module_shape(adapter):
    path = os.path.join(TASKS, "frameworks", adapter + ".py")
    tree = parse(path)
    assert public_functions(tree)[:len(FRAMEWORK_FUNCTIONS)] == FRAMEWORK_FUNCTIONS
    assert [n for n in assigned(tree) if n in FRAMEWORK_CONSTANTS] == FRAMEWORK_CONSTANTS
    assert signature(tree, "init") == ["device", "seed", "variant"]
    # the host imports it: only the standard library at its top
    stdlib = set(sys.stdlib_module_names)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module]
            for name in names:
                assert name.split(".")[0] in stdlib, "%s imports %s at its top" % (path, name)
    fw = taskfiles.load(adapter, TASKS)
    assert isinstance(fw.name, str) and fw.name
    assert fw.packages and all(isinstance(p, str) for p in fw.packages)
    assert fw.variants, "no variants"
    seen = set()
    for v in fw.variants:
        # loop "steps": the variant trains one train_step per minibatch where the task file
        # also has train_epoch (runtime/adapters.py training_loop)
        # cpu_limits: {task: what holds it below the CPU's peak, measured} (the report's
        # footnote, harness/results/report.py cpu_limit)
        # task_env: {task: env added for that task only} (runtime/adapters.py variant_env)
        assert set(v) <= {"name", "doc", "env", "tasks", "devices", "row", "loop",
                          "cpu_limits", "task_env"}, v
        assert all(t in fw.tasks() and all(isinstance(k, str) and isinstance(x, str)
                                           for k, x in e.items())
                   for t, e in (v.get("task_env") or {}).items()), v
        assert v.get("loop", "steps") == "steps", v
        assert all(isinstance(t, str) and isinstance(x, str) and t in fw.tasks()
                   for t, x in (v.get("cpu_limits") or {}).items()), v
        assert set(v.get("devices", ("cpu",))) <= {"cpu", "gpu"}, v
        if v.get("devices") == ["gpu"]:  # a GPU math mode is never beside a 2017 fp32 number
            assert v["row"] is None, v
        assert v["name"] not in seen and v["name"] and v["doc"]
        seen.add(v["name"])
        assert all(isinstance(k, str) and isinstance(x, str) for k, x in v["env"].items())
        assert set(v.get("tasks", ())) <= set(fw.tasks()), v
        assert v.get("row") is None or isinstance(v["row"], str)
    assert fw.tasks(), "no task files for %s" % adapter


def test_rows_name_rows_of_the_2017_reference():
    import json
    ref = json.load(open(os.path.join(ROOT, "harness", "results", "data", "reference_2017.json")))
    names = {f["name"] for f in ref["frameworks"]}
    for fw in taskfiles.discover(TASKS):
        for v in fw.variants:
            assert v.get("row") is None or v["row"] in names, (fw.adapter, v)


def test_adapters_never_read_the_clock():
    for task, adapter in PAIRS + [(t, REFERENCE) for t in CONTRACT]:
        for path in (os.path.join(TASKS, task, adapter + ".py"),
                     os.path.join(TASKS, "frameworks", adapter + ".py")):
            src = open(path).read()
            for word in ("import time", "perf_counter", "time.time("):
                assert word not in src, "%s: %s (the runner owns the clock)" % (path, word)
