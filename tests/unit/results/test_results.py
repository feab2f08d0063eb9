"""Result validation against tasks/runtime/result.schema.json, the host's failed result, reading
results (older schema versions upgraded) and the results table."""
import json
import os
import shutil

import pytest
from helpers import HANG_S
from click.testing import CliRunner

from harness.results import results
from harness.cli import main as cli_main

from helpers import FIXTURES
from helpers.results import host_path


def ok_result():
    return {
        "schema_version": 2, "task": "cnn", "framework": "pytorch", "adapter": "pytorch",
        "variant": "reference", "image": "pytorch-2.13", "status": "ok", "reason": None,
        "exit_code": 0, "device": "cpu",
        "params": {"epochs": 1}, "data": {"source": "synthetic"},
        "env": {"python": "3.11.2", "numpy": "2.4.6"},
        "timings": {"train_seconds": 1.5, "images_per_second": 100.0},
        "metrics": {"test_accuracy": 0.5}, "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:00:02Z",
        "provenance": {"image": "pytorch-2.13", "run_id": "r1", "repeat": 1,
                       "pip_freeze": ["torch==2.13.0"]},
    }


def test_a_good_result_validates():
    assert results.validate(ok_result()) == []


def test_bad_results_say_where():
    r = ok_result()
    del r["env"]["numpy"]
    r["data"]["source"] = "made-up"
    r["provenance"]["pip_freeze"] = "torch"
    problems = results.validate(r)
    assert any(p.startswith("data/source") for p in problems)
    assert any(p.startswith("env") and "numpy" in p for p in problems)
    assert any(p.startswith("provenance/pip_freeze") for p in problems)
    assert results.validate({"task": "cnn"})  # missing everything else


def test_failed_result_of_the_host_conforms():
    r = results.failed_result("rnn", "pytorch", "reference", "cpu", "real",
                              "killed: out of memory", 137)
    assert results.validate(r) == []
    assert r["status"] == "failed" and r["exit_code"] == 137 and r["data"]["source"] == "real"
    assert r["schema_version"] == results.SCHEMA_VERSION and r["image"] is None


def test_failed_result_names_the_framework_not_the_adapter():
    # framework=None: the FRAMEWORK the adapter file declares (read, not imported)
    r = results.failed_result("cnn", "keras3", "jax", "cpu", "real", "timed out", 137)
    assert (r["framework"], r["adapter"]) == ("keras", "keras3")
    r = results.failed_result("cnn", "keras3", "jax", "cpu", "real", "timed out", 137,
                              framework="keras", image="keras-3.15")
    assert (r["framework"], r["adapter"], r["image"]) == ("keras", "keras3", "keras-3.15")
    assert results.validate(r) == []
    # no such adapter file: the adapter's name is all the host knows
    r = results.failed_result("cnn", "nosuch", "reference", "cpu", "real", "no image", None)
    assert r["framework"] == "nosuch" and results.validate(r) == []


def test_framework_of_reads_the_framework_module(tmp_path):
    (tmp_path / "frameworks").mkdir()
    (tmp_path / "frameworks" / "mine.py").write_text('NAME = "myframework"\nPACKAGES = ()\n'
                                                     'VARIANTS = []\n')
    (tmp_path / "frameworks" / "broken.py").write_text("NAME = (\n")
    root = str(tmp_path)
    assert results.framework_of("mine", root) == "myframework"
    assert results.framework_of("broken", root) == "broken"
    assert results.framework_of("absent", root) == "absent"
    assert results.framework_of("keras3") == "keras"  # the real tasks/ folder
    assert results.framework_of("tensorflow") == "tensorflow"


def test_add_provenance_sets_the_image():
    r = results.failed_result("cnn", "pytorch", "reference", "cpu", "real", "x", 1)
    results.add_provenance(r, {"image": "pytorch-2.13", "run_id": "r1", "repeat": 1})
    assert r["image"] == "pytorch-2.13" and r["provenance"]["run_id"] == "r1"
    assert results.validate(r) == []
    doc = dict(ok_result(), image="kept")
    assert results.add_provenance(doc, {"image": "other"})["image"] == "kept"


def test_read_upgrades_old_results(tmp_path):
    path = host_path(tmp_path, json.load(open(os.path.join(FIXTURES,
                                                           "result-v1-host-failed.json"))))
    os.makedirs(os.path.dirname(path))
    shutil.copy(os.path.join(FIXTURES, "result-v1-host-failed.json"), path)
    doc = results.read_upgraded(path)
    assert doc["schema_version"] == results.SCHEMA_VERSION
    assert (doc["framework"], doc["adapter"], doc["image"]) == (
        "tensorflow", "tensorflow", "tensorflow-2.21")
    assert json.load(open(path))["schema_version"] == 1  # the file is never rewritten
    assert results.read_collected(path) == doc


@pytest.mark.parametrize("text, why", [
    ('{"task": "cnn", ', "not JSON"),
    ("[]", "not a JSON object (a list)"),
    ("null", "not a JSON object (a null)"),
    ('"result"', "not a JSON object (a string)"),
    ("{}", "no schema_version: not a dlbench result"),
    (json.dumps(dict(ok_result(), schema_version=3)),
     "written by a newer dlbench (schema 3); this one reads up to 2"),
    (json.dumps(dict(ok_result(), timings=[])), "does not follow the result schema: timings"),
    (json.dumps(dict(ok_result(), schema_version=1, timings=[])),
     "does not follow the result schema (after upgrading from schema 1): timings"),
])
def test_load_says_why_a_file_cannot_be_used(tmp_path, text, why):
    path = tmp_path / "result.json"
    path.write_text(text)
    with pytest.raises(results.Unreadable) as e:
        results.read_collected(str(path))
    assert str(e.value).startswith(why), str(e.value)
    assert e.value.task == ("cnn" if why.startswith(("written", "does not")) else None)
    if not why.startswith("does not follow"):  # read does not validate; the rest it says too
        with pytest.raises(ValueError):
            results.read_upgraded(str(path))


def test_table_lists_results_and_skips_logs(tmp_path):
    run = tmp_path / "r1" / "pytorch-2.13" / "cnn-r1"
    run.mkdir(parents=True)
    results.write(ok_result(), str(run / "result.json"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "result.json").write_text("{}")
    lines = results.table(str(tmp_path))
    assert len(lines) == 2
    assert "pytorch-2.13" in lines[1] and "synthetic" in lines[1] and "1.5 s train" in lines[1]
    assert results.table(str(tmp_path / "empty")) == []


WRONG_SHAPES = {
    "list": "[]", "null": "null", "string": '"ok"', "number": "1", "truncated": '{"task": ',
    "timings-list": json.dumps(dict(ok_result(), timings=[])),
    "provenance-list": json.dumps(dict(ok_result(), provenance=[])),
    "newer": json.dumps(dict(ok_result(), schema_version=3)),
    "no-version": json.dumps({k: v for k, v in ok_result().items() if k != "schema_version"}),
}


def wrong_shapes_tree(root):
    good = root / "r1" / "pytorch-2.13" / "cnn-r1"
    good.mkdir(parents=True)
    results.write(ok_result(), str(good / "result.json"))
    for name in ("result-v1-tensorflow2-cnn-ok.json", "result-v1-host-failed.json"):
        path = host_path(root, json.load(open(os.path.join(FIXTURES, name))))
        os.makedirs(os.path.dirname(path))
        shutil.copy(os.path.join(FIXTURES, name), path)
    for name, text in WRONG_SHAPES.items():
        folder = root / "r2" / "bad" / name
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(text)


def test_table_lists_wrong_shapes_as_unreadable_and_keeps_the_rest(tmp_path):
    wrong_shapes_tree(tmp_path)
    lines = results.table(str(tmp_path))
    assert len(lines) == 1 + 3 + len(WRONG_SHAPES)
    body = lines[1:]
    bad = [line for line in body if "/bad/" in line]
    assert len(bad) == len(WRONG_SHAPES) and all("unreadable" in line for line in bad)
    text = "\n".join(bad)
    for why in ("not a JSON object (a list)", "not a JSON object (a null)",
                "not a JSON object (a string)", "not a JSON object (a number)", "not JSON",
                "does not follow the result schema: timings",
                "does not follow the result schema: provenance",
                "written by a newer dlbench (schema 3); this one reads up to 2",
                "no schema_version"):
        assert why in text, why
    # the good and the upgraded v1 results are still there
    assert any("pytorch-2.13" in line and "1.5 s train" in line for line in body)
    v1 = [line for line in body if line.startswith("20261128-083806-b9b2")]
    assert len(v1) == 2 and all("tensorflow-2.21" in line for line in v1)
    assert any("ok" in line and "1903.5 s train" in line and "0.771" in line for line in v1)
    assert any("failed" in line and "timed out after 3600 s" in line for line in v1)


def test_cli_results_survives_wrong_shapes(tmp_path):
    wrong_shapes_tree(tmp_path)
    out = CliRunner().invoke(cli_main, ["results", "--results-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert out.exception is None
    assert out.output.count("unreadable") == len(WRONG_SHAPES)
    assert "this one reads up to 2" in out.output and "1.5 s train" in out.output


def test_write_is_atomic_and_readable(tmp_path):
    path = str(tmp_path / "result.json")
    results.write(ok_result(), path)
    assert json.load(open(path))["task"] == "cnn"
    assert not os.path.exists(path + ".tmp")


@pytest.mark.parametrize("rate,shown", [(1234.4, "1234"), (100.2, "100"), (13.51, "13.5"),
                                        (1.4649, "1.46"), (None, "-")])
def test_table_shows_slow_rates_with_three_digits(tmp_path, rate, shown):
    """A DenseNet run on a CPU trains 1.46 images/s: the table must not say "1"."""
    doc = ok_result()
    doc["timings"]["images_per_second"] = rate
    run = tmp_path / "r1" / "pytorch-2.13" / "cnn-r1"
    run.mkdir(parents=True)
    results.write(doc, str(run / "result.json"))
    header, line = results.table(str(tmp_path))
    start = header.index("IMG/S")
    assert line[start:].split()[0] == shown


# ---------------------------------------------------------------- hostile files

def hostile_results(tmp_path):
    """One good result and, beside it, files no result can be, each in its own run folder."""
    root = tmp_path / "results"
    made = {}

    def folder(name):
        f = root / ("20260101-000000-%s" % name) / "pytorch-2.13" / "cnn-r1"
        f.mkdir(parents=True)
        return f / "result.json"
    made["deep"] = folder("deep")
    made["deep"].write_text("[" * 5000 + "]" * 5000)
    made["fifo"] = folder("fifo")
    os.mkfifo(str(made["fifo"]))
    made["huge-int"] = folder("huge")
    doc = ok_result()
    doc["timings"]["images_per_second"] = 10 ** 400
    made["huge-int"].write_text(json.dumps(doc))
    made["folder"] = folder("dir")
    made["folder"].mkdir()
    return root, made


def test_hostile_files_are_listed_unreadable_and_stop_nothing(tmp_path):
    """A 5,000-level nested JSON (RecursionError), a FIFO named result.json (a reader would
    block), an integer beyond any float (the report's float() overflowed): each is one
    unreadable row with its reason; the command finishes."""
    import threading
    root, made = hostile_results(tmp_path)
    box = {}
    t = threading.Thread(target=lambda: box.update(r=results.read_all_collected(str(root))),
                         daemon=True)
    t.start()
    t.join(HANG_S)
    assert not t.is_alive(), "reading the results hung (the FIFO?)"
    good, bad = box["r"]
    reasons = dict((os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(
        u["path"])))), u["error"]) for u in bad)
    assert reasons["20260101-000000-deep"] == "nested deeper than a JSON reader goes"
    assert reasons["20260101-000000-fifo"] == "not a regular file"
    assert "an integer of 401 digits, beyond any float" in reasons["20260101-000000-huge"]
    assert good == []


def test_the_report_of_hostile_files_lists_them(tmp_path):
    from harness.results import report
    root, made = hostile_results(tmp_path)
    view = report.build_view(str(root))
    assert len(view["unreadable"]) == 3  # the folder named result.json is no result file


def test_a_copied_result_is_counted_once(tmp_path):
    """Two files with one run's identity (run id, repeat, image, task, variant, device) are one
    run written twice: the report pooled them as n=2. Here both lie where the host writes them,
    the copy in a backup of the run kept inside the results tree: the first is counted, the copy
    listed with the reason; another repeat of the same run counts."""
    from harness.results import report
    root = tmp_path / "results"
    for where, repeat in (("a", 1), ("b", 1), ("a", 2)):
        doc = ok_result()
        doc["provenance"]["repeat"] = repeat
        path = host_path(root / where, doc)
        os.makedirs(os.path.dirname(path))
        results.write(doc, path)
    good, bad = results.read_all_collected(str(root))
    assert sorted(os.path.relpath(p, str(root)) for p, _ in good) == [
        os.path.join("a", "r1", "pytorch-2.13", "cnn-r1", "result.json"),
        os.path.join("a", "r1", "pytorch-2.13", "cnn-r2", "result.json")]
    assert len(bad) == 1 and bad[0]["path"].endswith(
        os.path.join("b", "r1", "pytorch-2.13", "cnn-r1", "result.json"))
    assert "a second result of run r1 repeat 1" in bad[0]["error"]
    assert os.path.join("a", "r1", "pytorch-2.13", "cnn-r1", "result.json") in bad[0]["error"]
    view = report.build_view(str(root))
    assert view["n_results"] == 2 and len(view["unreadable"]) == 1
