"""No forged numbers: the results schema refuses impossible figures, a non-finite number makes a
result unreadable, and a container result with NaN becomes a failed run."""
import json
import os

import pytest

from helpers.fakes import FakeEngine, collected_result, stand_in_run
from harness.runs import container_run
from harness.containers import containers, engine


@pytest.mark.parametrize("change, where", [
    (lambda r: r["timings"].update(images_per_second=-5.0), "timings/images_per_second"),
    (lambda r: r["timings"].update(train_seconds=-0.1), "timings/train_seconds"),
    (lambda r: r["timings"].update(epoch_seconds=[1.0, -1.0]), "timings/epoch_seconds/1"),
    (lambda r: r["timings"].update(seconds_per_1000_images=-1), "timings/seconds_per_1000"),
    (lambda r: r["timings"].update(batches=-40), "timings/batches"),
    (lambda r: r["metrics"].update(test_accuracy=1.5), "metrics/test_accuracy"),
    (lambda r: r["metrics"].update(test_accuracy=-0.5), "metrics/test_accuracy"),
    (lambda r: r.update(status="great"), "status"),
    (lambda r: r["provenance"].update(host_wall_seconds=-3), "provenance/host_wall_seconds"),
])
def test_schema_refuses_impossible_figures(change, where):
    from harness.results import results
    doc = collected_result()
    assert results.validate(doc) == []
    change(doc)
    problems = results.validate(doc)
    assert any(p.startswith(where) for p in problems), problems


@pytest.mark.parametrize("text, said", [
    ('NaN', "timings/images_per_second is NaN"),
    ('Infinity', "timings/images_per_second is Infinity"),
    ('-Infinity', "timings/images_per_second is -Infinity"),
    ('1e999', "timings/images_per_second is Infinity"),  # overflows to inf when read
])
def test_a_non_finite_number_makes_a_result_unreadable(tmp_path, text, said):
    from harness.results import results
    path = tmp_path / "run" / "pytorch-2.13" / "cnn-r1" / "result.json"
    path.parent.mkdir(parents=True)
    body = json.dumps(collected_result(images_per_second=123456.0)).replace("123456.0", text)
    path.write_text(body)
    with pytest.raises(results.Unreadable) as e:
        results.read_collected(str(path))
    assert said in str(e.value) and "non-finite" in str(e.value)
    assert e.value.task == "cnn"
    with pytest.raises(ValueError) as e:
        results.read_upgraded(str(path))
    assert said in str(e.value)
    good, bad = results.read_all_collected(str(tmp_path))
    assert good == [] and [b["path"] for b in bad] == [str(path)]
    table = "\n".join(results.table(str(tmp_path)))
    assert "unreadable" in table and "is %s" % said.split(" is ")[1] in table


def test_a_container_result_with_nan_becomes_a_failed_run(tmp_path, monkeypatch):
    from helpers.fakes import FakeContainer
    from harness.results import results
    body = json.dumps(collected_result(images_per_second=123456.0)).replace("123456.0", "NaN")
    fake = FakeEngine(FakeContainer(b""), writes=body)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run = stand_in_run(tmp_path)
    result = container_run.run_container(run, containers.Tracker(), lambda *a, **k: None)
    assert result["status"] == "failed"
    assert "timings/images_per_second is NaN" in result["reason"]
    assert os.path.isfile(run.result_path + ".invalid")
    assert results.read_collected(run.result_path)["status"] == "failed"
