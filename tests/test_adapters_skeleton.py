"""Every adapter is a column of the Rosetta Stone: tasks/<task>/<adapter>.py defines the same
public functions, in the same order, as tasks/<task>/pytorch.py, so two files diff down to the
framework. Read with ast: no framework is imported."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")
TASK_NAMES = ("cnn", "rnn", "inference")
REFERENCE = "pytorch"
CONTRACT = {
    "cnn": ["framework_version", "probe", "init", "build_model", "count_parameters",
            "build_trainer", "train_step", "to_float", "predict", "sync"],
    "inference": ["framework_version", "probe", "init", "build_model", "count_parameters",
                  "load_weights", "predict", "sync"],
}
CONTRACT["rnn"] = CONTRACT["cnn"]


def adapters(task):
    folder = os.path.join(TASKS, task)
    return sorted(f[:-3] for f in os.listdir(folder)
                  if f.endswith(".py") and not f.startswith("_") and f[:-3] != REFERENCE)


def parse(task, adapter):
    path = os.path.join(TASKS, task, adapter + ".py")
    with open(path) as f:
        return ast.parse(f.read(), path)


def public_functions(tree):
    return [n.name for n in tree.body
            if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]


def constants(tree):
    out = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and \
                isinstance(n.targets[0], ast.Name):
            try:
                out[n.targets[0].id] = ast.literal_eval(n.value)
            except ValueError:
                out[n.targets[0].id] = None
    return out


def signature(tree, name):
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name][0]
    return [a.arg for a in fn.args.args]


PAIRS = [(t, a) for t in TASK_NAMES for a in adapters(t)]


def test_there_are_other_columns_than_pytorch():
    for task in TASK_NAMES:
        assert {"tensorflow2", "keras3", "flax"} <= set(adapters(task)), task


def test_the_reference_column_is_the_contract():
    for task in TASK_NAMES:
        assert public_functions(parse(task, REFERENCE)) == CONTRACT[task]


@pytest.mark.parametrize("task,adapter", PAIRS)
def test_same_public_functions_in_the_same_order(task, adapter):
    assert public_functions(parse(task, adapter)) == public_functions(parse(task, REFERENCE))


@pytest.mark.parametrize("task,adapter", PAIRS)
def test_same_arguments(task, adapter):
    tree, ref = parse(task, adapter), parse(task, REFERENCE)
    for name in CONTRACT[task]:
        assert signature(tree, name) == signature(ref, name), name


@pytest.mark.parametrize("task,adapter", PAIRS)
def test_framework_and_variants_declared_first(task, adapter):
    tree = parse(task, adapter)
    found = constants(tree)
    assert isinstance(found.get("FRAMEWORK"), str) and found["FRAMEWORK"]
    variants = found.get("VARIANTS")
    assert isinstance(variants, tuple) and variants and all(isinstance(v, str) for v in variants)
    first_def = [i for i, n in enumerate(tree.body) if isinstance(n, (ast.FunctionDef,
                                                                      ast.ClassDef))][0]
    names = [n.targets[0].id for n in tree.body[:first_def] if isinstance(n, ast.Assign)
             and isinstance(n.targets[0], ast.Name)]
    assert "FRAMEWORK" in names and "VARIANTS" in names


@pytest.mark.parametrize("task,adapter", PAIRS)
def test_init_rejects_unknown_variants_and_records_a_layout(task, adapter):
    tree = parse(task, adapter)
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "init"][0]
    src = ast.dump(fn)
    assert "ValueError" in src  # an unknown --variant is an error, not a silent default
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    assert returns and all(isinstance(r.value, ast.Dict) for r in returns)
    keys = [k.value for r in returns for k in r.value.keys if isinstance(k, ast.Constant)]
    assert "layout" in keys


def test_adapters_never_read_the_clock():
    for task, adapter in PAIRS:
        src = open(os.path.join(TASKS, task, adapter + ".py")).read()
        for word in ("import time", "perf_counter", "time.time("):
            assert word not in src, "%s/%s: %s (the runner owns the clock)" % (task, adapter,
                                                                               word)
