"""A result without the host's provenance is not a benchmark row (results.read_collected, the one check
`dlbench results` and `dlbench report` go through): a container that outlived its killed
dlbench writes its own "ok" result, which no host collected. And an ok run that shared the CPU
is marked in `dlbench results`."""
import json

import pytest
import os

from click.testing import CliRunner

from helpers.fakes import written_result
from harness import cli
from harness.runs import contention
from harness.results import report, results


def collected(run_id="r1", **prov):
    doc = written_result()
    doc["image"] = "pytorch-2.13"
    doc["provenance"] = dict({"image": "pytorch-2.13", "run_id": run_id, "repeat": 1,
                              "host": "bench-host"}, **prov)
    return doc


def put(root, run_id, doc):
    """doc in ROOT/<run_id>/pytorch-2.13/<its run folder>/, where the host writes it."""
    repeat = (doc.get("provenance") or {}).get("repeat", 1)
    folder = os.path.join(str(root), run_id, "pytorch-2.13",
                          results.run_folder(doc["task"], doc["variant"], repeat))
    os.makedirs(folder)
    path = os.path.join(folder, "result.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def test_a_result_no_host_collected_is_not_a_row(tmp_path):
    forged = put(tmp_path, "r0", written_result())
    good_path = put(tmp_path, "r1", collected())
    for doc in (written_result(), dict(written_result(), provenance={}),
                dict(written_result(), provenance={"run_id": ""})):
        assert results.host_provenance_problem(doc)
    assert results.host_provenance_problem(collected()) is None

    good, bad = results.read_all_collected(str(tmp_path))
    assert [p for p, _ in good] == [good_path]
    [u] = bad
    assert u["path"] == forged and u["status"] == "no-provenance" and u["task"] == "cnn"
    assert u["error"].startswith("no host provenance: written by the run itself and never "
                                 "collected by dlbench")


def test_results_lists_it_as_no_provenance(tmp_path, monkeypatch):
    from harness.runs import orphans
    monkeypatch.setattr(orphans, "quick_client", lambda: None)
    put(tmp_path, "r0", written_result())
    put(tmp_path, "r1", collected())
    out = CliRunner().invoke(cli.main, ["results", "--results-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    [row] = [l for l in out.output.splitlines() if "r0" in l]
    assert "no-provenance" in row and "no host provenance" in row
    [ok] = [l for l in out.output.splitlines() if l.startswith("r1 ")]
    assert " ok " in ok


def test_the_report_does_not_count_it(tmp_path):
    put(tmp_path, "r0", written_result())
    put(tmp_path, "r1", collected())
    view = report.build_view(str(tmp_path))
    assert view["n_results"] == 1
    [u] = view["unreadable"]
    assert u["relpath"] == os.path.join("r0", "pytorch-2.13", "cnn-r1", "result.json")
    assert u["error"].startswith("no host provenance")


def test_results_marks_an_ok_run_that_shared_the_cpu(tmp_path):
    seen = contention.assess((0.0, 0, 0, 0), (10.0, 1900, 2000, 10 * 10 ** 9), 2, ["x"])
    quiet = contention.assess((0.0, 0, 0, 0), (10.0, 1050, 2000, 10 * 10 ** 9), 2)
    put(tmp_path, "r1", collected("r1", contention=seen))
    put(tmp_path, "r2", collected("r2", contention=quiet))
    put(tmp_path, "r3", collected("r3"))  # collected by an older dlbench: nothing recorded
    lines = results.table(str(tmp_path))
    [r1] = [l for l in lines if l.startswith("r1 ")]
    [r2] = [l for l in lines if l.startswith("r2 ")]
    assert " ok! " in r1 and r1.endswith("CPU contention: other work used 0.9 of 2 CPUs")
    assert " ok! " not in r2 and "contention" not in r2
    assert lines[-1].startswith("ok!: a check of the measurement flagged the run")


def test_a_run_whose_clock_stopped_early_is_marked_in_results_and_report(tmp_path):
    """checks.clock flagged (tasks/runtime/protocol.py): `dlbench results` marks the run ok! with
    the note, and the report's row carries the flag with how many of its runs it concerns."""
    flagged = collected("r1")
    flagged["checks"] = {"clock": {"unsynced_seconds": 2.0, "share": 0.4, "limit": 0.01,
                                   "flagged": True,
                                   "note": "clock stopped before the device finished"}}
    fine = collected("r2")
    fine["checks"] = {"clock": {"unsynced_seconds": 0.0001, "share": 0.00002, "limit": 0.01,
                                "flagged": False, "note": None}}
    fine["provenance"]["repeat"] = 2
    put(tmp_path, "r1", flagged)
    put(tmp_path, "r2", fine)
    lines = results.table(str(tmp_path))
    [r1] = [l for l in lines if l.startswith("r1 ")]
    [r2] = [l for l in lines if l.startswith("r2 ")]
    assert " ok! " in r1 and "clock stopped before the device finished (40 %" in r1
    assert " ok! " not in r2
    view = report.build_view(str(tmp_path))
    rows = [line["row"] for s in view["sections"] for line in s["lines"] if line["row"]]
    assert [r["flags"] for r in rows] == [
        ["clock stopped before the device finished in 1 of 2 runs"]]


@pytest.mark.parametrize("change, said", [
    (lambda doc: doc.update(provenance={"run_id": "r1"}),
     "the host's provenance is incomplete (repeat None, image None)"),
    (lambda doc: doc["provenance"].update(run_id="r9"),
     "its provenance places it in r9/pytorch-2.13/cnn-r1/, but it lies in r1/pytorch-2.13/"
     "cnn-r1/: moved or copied from another run, or made by hand"),
    (lambda doc: doc["provenance"].update(repeat=3),
     "its provenance places it in r1/pytorch-2.13/cnn-r3/"),
    (lambda doc: doc.update(variant="tuned"),
     "its provenance places it in r1/pytorch-2.13/cnn-tuned-r1/"),
    (lambda doc: doc["provenance"].update(log="r0/pytorch-2.13/cnn-r1/container.log"),
     "its provenance names the log r0/pytorch-2.13/cnn-r1/container.log, not the one beside "
     "it (r1/pytorch-2.13/cnn-r1/container.log)"),
])
def test_a_result_whose_provenance_is_not_its_folder_is_not_counted(tmp_path, change, said):
    """Provenance made up by hand (a bare run id), or a result moved into another run's folder,
    would pass as a measurement: the file must lie where its own provenance says the host wrote
    it, its log beside it."""
    doc = collected("r1", log="r1/pytorch-2.13/cnn-r1/container.log")
    path = put(tmp_path, "r1", doc)
    assert results.read_collected(path)["provenance"]["run_id"] == "r1"  # as written: counted
    change(doc)
    with open(path, "w") as f:
        json.dump(doc, f)
    with pytest.raises(results.Unreadable) as e:
        results.read_collected(path)
    assert str(e.value).startswith(said), str(e.value)
    good, bad = results.read_all_collected(str(tmp_path))
    assert good == [] and bad[0]["error"] == str(e.value)
