"""Result validation against tasks/common/result.schema.json and the results table."""
import json
import os

from harness import results


def ok_result():
    return {
        "schema_version": 1, "task": "cnn", "framework": "pytorch", "adapter": "pytorch",
        "variant": "reference", "status": "ok", "reason": None, "exit_code": 0, "device": "cpu",
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


def test_write_is_atomic_and_readable(tmp_path):
    path = str(tmp_path / "result.json")
    results.write(ok_result(), path)
    assert json.load(open(path))["task"] == "cnn"
    assert not os.path.exists(path + ".tmp")
