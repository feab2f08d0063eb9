"""A result whose variant names a 2017 framework row (`row` in tasks/frameworks/<adapter>.py)
that the task's 2017 table lacks: Chainer ran no RNN in 2017. The report shows it under that
framework as an extra row after the 2017 rows, marked "no 2017 Chainer RNN", never beside
another framework's numbers; the same framework's CNN row, which 2017 has, is not marked."""
import json
import os

from harness.results import report

from helpers.report import TableParser, md_tables
from helpers.results import result, write

from helpers import ROOT


def chainer_result(task, seconds, accuracy):
    doc = result("pytorch-2.13", task, seconds, accuracy=accuracy)
    doc.update({"adapter": "chainer", "framework": "chainer", "image": "chainer-7.8"})
    doc["provenance"]["image"] = "chainer-7.8"
    doc["env"]["framework_version"] = "7.8.1"
    doc["model"]["parameters"] = 3441592 if task == "cnn" else 3750202 + 68100
    return doc


def test_the_2017_tables_have_a_chainer_cnn_row_and_no_chainer_rnn_row():
    with open(os.path.join(ROOT, "harness", "results", "data", "reference_2017.json")) as f:
        tasks = json.load(f)["tasks"]
    assert "Chainer" in [r["framework"] for r in tasks["cnn"]["rows"]]
    assert "Chainer" not in [r["framework"] for r in tasks["rnn"]["rows"]]


def test_chainer_rnn_is_an_extra_row_marked_no_2017_chainer_rnn(tmp_path):
    root = str(tmp_path)
    write(root, chainer_result("rnn", 300.0, 0.85))
    write(root, chainer_result("cnn", 900.0, 0.78))
    write(root, result("pytorch-2.13", "rnn", 100.0, accuracy=0.86))
    written = report.render_report(root)
    parser = TableParser()
    parser.feed(open(written["html"], encoding="utf-8").read())
    rnn = parser.rows[("rnn", "Chainer", "chainer-7.8")]
    assert "no 2017 Chainer RNN" in rnn["framework"]
    assert rnn["ref-K80"] == "" and rnn["ref-P100"] == ""   # no 2017 figure beside it
    assert rnn["hw0-time"].startswith("300")
    cnn = parser.rows[("cnn", "Chainer", "chainer-7.8")]
    assert "no 2017" not in cnn["framework"] and cnn["ref-K80"] not in ("", "—")
    # after every 2017 row of the RNN table, and the PyTorch row keeps its own group
    groups = [k[1] for k in parser.rows if k[0] == "rnn"]
    assert groups.index("Chainer") > groups.index("R-Keras(TF)")
    assert "no 2017" not in parser.rows[("rnn", "PyTorch", "pytorch-2.13")]["framework"]
    md = md_tables(open(written["md"], encoding="utf-8").read())
    lines = [r for r in md["RNN training: GRU on IMDB sentiment"]
             if r["Image"].startswith("chainer-7.8")]
    assert len(lines) == 1 and lines[0]["2017 framework"] == "Chainer (no 2017 Chainer RNN)"
    cnn_md = [r for r in md["CNN training: VGG-style network on CIFAR-10"]
              if r["Image"].startswith("chainer-7.8")]
    assert cnn_md[0]["2017 framework"] == "Chainer"
