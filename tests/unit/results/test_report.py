"""`dlbench report`: numbers and markings land in the right cells of the HTML and Markdown
tables, every 2017 row is shown, failed/synthetic/partial runs are marked, unreadable files are
listed, ranks appear only where repeat ranges separate."""
import json
import os
import re
import shutil
import statistics

import pytest
from click.testing import CliRunner

from harness.results import report
from harness.cli import main as cli_main
from helpers.results import CPU, GPU, make_results, result, write
from helpers import FIXTURES
from helpers.report import TableParser, md_tables

HW_GPU, HW_CPU = 0, 1  # GPUs come first in the column order


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("results"))
    docs = make_results(root)
    written = report.render_report(root)
    with open(written["html"], encoding="utf-8") as f:
        html_text = f.read()
    with open(written["md"], encoding="utf-8") as f:
        md_text = f.read()
    parser = TableParser()
    parser.feed(html_text)
    return {"root": root, "docs": docs, "written": written, "html": html_text, "md": md_text,
            "rows": parser.rows, "md_tables": md_tables(md_text)}


def row(rendered, task, group, label):
    return rendered["rows"][(task, group, label)]


def gpu_hw_label():
    return GPU


def test_writes_html_and_markdown_into_the_results_folder(rendered):
    w = rendered["written"]
    assert set(w) == {"html", "md"}
    assert w["html"] == os.path.join(rendered["root"], "report.html")
    assert w["md"] == os.path.join(rendered["root"], "report.md")
    assert rendered["html"].startswith("<!DOCTYPE html>")
    # self-contained: no external scripts, stylesheets or images
    assert not re.search(r'<(script|link|img)\b', rendered["html"])
    assert "http://" not in rendered["html"].replace("http://www.w3.org/2000/svg", "")


def test_out_dir_option(tmp_path):
    make_results(str(tmp_path / "r"))
    written = report.render_report(str(tmp_path / "r"), out_dir=str(tmp_path / "out"))
    assert os.path.dirname(written["html"]) == str(tmp_path / "out")
    # links to result files stay valid from the other folder
    with open(written["html"]) as f:
        page = f.read()
    href = re.search(r'href="([^"#]+result\.json)"', page).group(1)
    assert os.path.exists(os.path.join(str(tmp_path / "out"), href))


def test_every_2017_row_is_shown_with_its_published_numbers(rendered):
    ref = report.load_reference()
    for task, t in ref["tasks"].items():
        for r in t["rows"]:
            cells = [v for (tk, grp, _), v in rendered["rows"].items()
                     if tk == task and grp == r["framework"] and "ref-K80" in v]
            assert len(cells) == 1, (task, r["framework"])
            expect_k80 = "—" if r["K80"] is None else "%g" % r["K80"]
            expect_p100 = "—" if r["P100"] is None else "%g" % r["P100"]
            assert cells[0]["ref-K80"] == expect_k80, (task, r["framework"])
            assert cells[0]["ref-P100"] == expect_p100, (task, r["framework"])
    # spot checks straight from the issue
    assert row(rendered, "cnn", "PyTorch", "pytorch-2.13")["ref-K80"] == "169"
    assert row(rendered, "cnn", "PyTorch", "pytorch-2.13")["ref-P100"] == "51"
    assert row(rendered, "cnn", "Caffe2", "")["ref-K80"] == "148"
    assert row(rendered, "inference", "Tensorflow", "")["ref-K80"] == "6.5"
    assert row(rendered, "inference", "MXNet(Gluon)", "")["ref-K80"] == "—"
    assert row(rendered, "rnn", "CNTK", "")["ref-P100"] == "15"
    assert row(rendered, "cnn", "Caffe2", "")["image"] == "not run"


def test_gpu_cells_median_spread_images_per_second_accuracy(rendered):
    r = row(rendered, "cnn", "PyTorch", "pytorch-2.13")
    assert r["hw0-time"].startswith("41.0")
    assert "40.0–42.0" in r["hw0-time"] and "n=3" in r["hw0-time"]
    ips = statistics.median(d["timings"]["images_per_second"] for d in rendered["docs"]
                            if d["task"] == "cnn" and d["provenance"]["image"] == "pytorch-2.13"
                            and d["device"] == "gpu")
    assert r["hw0-ips"] == "%.0f" % ips
    assert r["hw0-acc"] == "0.772"
    assert "†" not in r["hw0-time"] and "‡" not in r["hw0-time"]
    # nothing on the CPU for this row
    assert r["hw1-time"] == "—"


def test_hardware_columns_are_the_probed_devices(rendered):
    assert "<th class=\"hw\" colspan=\"6\" data-hw=\"0\">%s</th>" % GPU in rendered["html"]
    assert "%s CPU ×16" % CPU in rendered["html"]


def test_ranks_only_where_repeat_ranges_separate(rendered):
    assert row(rendered, "cnn", "PyTorch", "pytorch-2.13")["hw0-rank"] == "1"
    # tensorflow 60-62 and keras/jax 61.5-63 overlap: not distinguishable
    assert row(rendered, "cnn", "Tensorflow", "tensorflow-2.21")["hw0-rank"] == "≈ 2–3"
    assert row(rendered, "cnn", "", "keras-3.15 · jax")["hw0-rank"] == "≈ 2–3"
    assert "not distinguishable" in row(rendered, "cnn", "", "keras-3.15 · jax")["hw0-rank.title"]
    assert row(rendered, "cnn", "Keras(TF)", "keras-3.15 · tensorflow")["hw0-rank"] == "4"
    # a lone comparable row on the CPU (flax: real, full) is not ranked; nor is the synthetic one
    assert row(rendered, "cnn", "", "flax-0.12")["hw1-rank"] == "–"
    assert row(rendered, "cnn", "PyTorch", "pytorch-2.13")["hw0-rank"] == "1"
    # rnn: two repeats each, ranges apart
    assert row(rendered, "rnn", "PyTorch", "pytorch-2.13")["hw0-rank"] == "1"
    assert row(rendered, "rnn", "Tensorflow", "tensorflow-2.21")["hw0-rank"] == "2"


def test_synthetic_partial_runs_are_separate_rows_and_marked(rendered):
    html_rows = [(k, v) for k, v in rendered["rows"].items()
                 if k[0] == "cnn" and k[2].startswith("pytorch-2.13")]
    assert len(html_rows) == 2  # real GPU row, synthetic CPU row: never pooled
    synth = [v for k, v in html_rows if "synthetic" in v["image"]][0]
    assert "partial: 2 of 10 epochs, 640 of 50000 examples" in synth["image"]
    assert synth["hw1-time"].startswith("30.5†‡")
    assert synth["hw1-acc"].endswith("†")
    assert synth["hw1-rank"] == "–"
    assert 'data-source="synthetic"' in rendered["html"]
    # inference is always random images: marked too
    inf = row(rendered, "inference", "PyTorch", "pytorch-2.13 †")
    assert "synthetic" in inf["image"]
    assert inf["hw0-time"].startswith("1.20†")


def test_inference_partial_run_says_how_much_was_run(rendered):
    rows = [v for k, v in rendered["rows"].items() if k[0] == "inference" and k[1] == "PyTorch"]
    partial = [v for v in rows if "partial" in v["image"]]
    assert len(partial) == 1
    assert "256 of 1280 images (8 of 40 batches)" in partial[0]["image"]
    assert partial[0]["hw1-time"].startswith("95.0†‡")


def test_failed_runs_show_with_their_reason(rendered):
    tf = row(rendered, "cnn", "Tensorflow", "tensorflow-2.21")
    # failed before probing anything: still lands in the CPU column of the tensorflow row
    assert "failed" in tf["hw1-time"] and "timed out after 3600 s" in tf["hw1-time"]
    keras = row(rendered, "cnn", "Keras(TF)", "keras-3.15 · tensorflow")
    assert keras["hw0-time"].startswith("81.0") and "1 failed" in keras["hw0-time"]
    assert "CUDA out of memory while allocating 2.0 GiB" in rendered["html"]
    assert "CUDA out of memory while allocating 2.0 GiB" in rendered["md"]
    assert re.search(r'<div class="stat bad"><b>2</b>failed runs', rendered["html"])


def test_rows_without_a_2017_counterpart(rendered):
    flax = row(rendered, "cnn", "", "flax-0.12")
    assert flax["framework"] == "no 2017 counterpart"
    assert flax["hw1-time"].startswith("2400") and "n=1" in flax["hw1-time"]


def test_unreadable_results_are_listed_not_dropped(rendered):
    for name in ("broken", "invalid"):
        rel = os.path.join("20261128-120000-abcd", name)
        assert rel in rendered["html"] and rel in rendered["md"]
    assert "not JSON" in rendered["html"]
    assert "does not follow the result schema" in rendered["html"]
    assert "2 result files could not be used" in rendered["html"]


def test_results_of_an_older_schema_are_upgraded_and_newer_ones_listed(tmp_path):
    """v1 results (adapter tensorflow2; the host's failed result named the adapter as the
    framework) land in the TensorFlow row; a result from a newer dlbench is listed with why."""
    fixtures = FIXTURES
    for name, run in (("result-v1-tensorflow2-cnn-ok.json", "cnn-r1"),
                      ("result-v1-host-failed.json", "cnn-tuned-r1")):
        folder = tmp_path / "20261128-083806-b9b2" / "tensorflow-2.21" / run
        folder.mkdir(parents=True)
        shutil.copy(os.path.join(fixtures, name), str(folder / "result.json"))
    newer = result("pytorch-2.13", "cnn", 40.0)
    newer["schema_version"] = 3
    write(str(tmp_path), newer)
    view = report.build_view(str(tmp_path))
    assert view["n_results"] == 2 and view["n_failed"] == 1
    assert [u["error"] for u in view["unreadable"]] == [
        "written by a newer dlbench (schema 3); this one reads up to 2"]
    assert view["unreadable"][0]["task"] == "cnn"
    written = report.render_report(str(tmp_path))
    parser = TableParser()
    parser.feed(open(written["html"], encoding="utf-8").read())
    ok = parser.rows[("cnn", "Tensorflow", "tensorflow-2.21")]
    assert ok["hw0-time"].startswith("1903") and ok["hw0-acc"] == "0.771"
    tuned = parser.rows[("cnn", "Tensorflow", "tensorflow-2.21 · tuned")]
    assert "timed out after 3600 s" in tuned["hw0-time"]
    md = open(written["md"], encoding="utf-8").read()
    assert "this one reads up to 2" in md and "framework tensorflow 2.21.0" in md


def test_provenance_footnotes(rendered):
    # every run row links to its footnote, which names image, id, versions and dates
    links = re.findall(r'<a href="#(cnn-p\d+)">', rendered["html"])
    assert len(links) == 6
    for anchor in links:
        assert 'id="%s"' % anchor in rendered["html"]
    block = rendered["html"].split('id="cnn-p3"')[1].split("</li>")[0]
    assert "pytorch-2.13" in block and "sha256:" in block and "CUDA 12.8 / cuDNN 9.10.2" in block
    assert "2026-11-28T12:01:00Z" in block and "pytorch 2.13.0" in block


def test_markdown_has_the_same_tables(rendered):
    t = rendered["md_tables"]
    cnn = t["CNN training: VGG-style network on CIFAR-10"]
    assert len([r for r in cnn if r["Image"] == "not run"]) == 10
    pt = [r for r in cnn if r["2017 framework"] == "PyTorch" and r["Image"].startswith("pytorch-2.13 [")]
    assert len(pt) == 1
    assert pt[0]["2017 K80 (s)"] == "169" and pt[0]["2017 P100 (s)"] == "51"
    assert pt[0][GPU + " time"] == "41.0 (40.0–42.0, n=3)"
    assert pt[0][GPU + " rank"] == "1"
    synth = [r for r in cnn if "†synthetic" in r["Image"]]
    assert len(synth) == 1 and "‡partial: 2 of 10 epochs" in synth[0]["Image"]
    cpu_col = "%s CPU ×16 time" % CPU
    assert synth[0][cpu_col].startswith("30.5†‡")
    tf = [r for r in cnn if r["Image"].startswith("tensorflow-2.21")][0]
    assert tf[cpu_col].startswith("✗ failed (1): timed out after 3600 s")
    assert tf[GPU + " rank"] == "≈ 2–3"
    inf = t["ResNet-50 inference: feature extraction"]
    assert [r["2017 K80 (s/1000 img)"] for r in inf if r["2017 framework"] == "Knet"] == ["6.3"]
    # every table row has as many cells as its header
    width = None
    for line in rendered["md"].splitlines():
        if not line.startswith("|"):
            width = None
        elif width is None:
            width = line.count("|")
        else:
            assert len(re.findall(r"(?<!\\)\|", line)) == width, line


def test_charts_per_task_with_reference_and_synthetic_marks(rendered):
    charts = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="([^"]+)"',
                        rendered["html"])
    assert charts == ["chart-cnn-time", "chart-cnn-ips", "chart-rnn-time", "chart-rnn-ips",
                      "chart-inference-time"]
    ips = rendered["html"].split('id="chart-cnn-ips"')[1].split("</svg>")[0]
    assert "2017 K80 / CUDA 8 / cuDNN 6" in ips and "this run: " + GPU in ips
    assert 'class="bar synthetic partial"' in ips and "url(#chart-cnn-ips-hatch)" in ips
    assert "† synthetic data" in ips
    # a partial run's total time is not drawn against the full 2017 times
    time_chart = rendered["html"].split('id="chart-cnn-time"')[1].split("</svg>")[0]
    assert "synthetic" not in time_chart.split("</defs>")[1].split("<text")[0]
    assert "30.5" not in time_chart
    assert "✗ failed" in time_chart  # tensorflow on the CPU
    # 2017 images/s derived from the published time: PyTorch P100, 10 x 49984 / 51 s
    assert "%.0f" % (10 * 49984 / 51.0) in ips


def test_escaping(tmp_path):
    doc = result("pytorch-2.13", "cnn", status="failed", reason="<b>boom</b> | pipe")
    write(str(tmp_path), doc)
    written = report.render_report(str(tmp_path))
    page = open(written["html"]).read()
    assert "<b>boom</b>" not in page and "&lt;b&gt;boom&lt;/b&gt; | pipe" in page
    md = open(written["md"]).read()
    assert "<b>boom</b>" not in md and "&lt;b&gt;boom&lt;/b&gt; \\| pipe" in md


def test_empty_results_folder_still_shows_the_reference(tmp_path):
    written = report.render_report(str(tmp_path))
    page = open(written["html"]).read()
    assert "<b>0</b>results" in page
    assert page.count("not run") >= 13 + 10 + 12


def test_cli_report_command(tmp_path):
    make_results(str(tmp_path))
    out = CliRunner().invoke(cli_main, ["report", "--results-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert os.path.exists(tmp_path / "report.html") and os.path.exists(tmp_path / "report.md")


class C:
    def __init__(self, *values):
        self.time = {"median": statistics.median(values), "min": min(values), "max": max(values),
                     "n": len(values)}
        self.rank = self.rank_note = None
        self.rank_tied = False


def test_rank_rule():
    a, b, c = C(1, 2, 3), C(4, 5, 6), C(5.5, 7, 8)
    report.rank_cells([c, a, b])
    assert (a.rank, b.rank, c.rank) == ("1", "≈ 2–3", "≈ 2–3")
    single = [C(1), C(10)]
    report.rank_cells(single)
    assert [x.rank for x in single] == ["≈ 1–2", "≈ 1–2"]
    assert "single repeat" in single[0].rank_note
    apart = [C(3, 3.1), C(1, 1.1), C(2, 2.1)]
    report.rank_cells(apart)
    assert [x.rank for x in apart] == ["3", "1", "2"]
    alone = [C(1, 2)]
    report.rank_cells(alone)
    assert alone[0].rank is None


def test_reference_file_facts():
    ref = report.load_reference()
    names = {f["name"] for f in ref["frameworks"]}
    facts = {
        "cnn": {"Caffe2": (148, 54), "Chainer": (162, 69), "CNTK": (163, 53),
                "MXNet(Gluon)": (152, 57), "Keras(CNTK)": (194, 76), "Keras(TF)": (241, 76),
                "Keras(Theano)": (269, 93), "Tensorflow": (173, 57), "Lasagne(Theano)": (253, 65),
                "MXNet(Module)": (145, 52), "PyTorch": (169, 51), "Knet": (159, None),
                "R-Keras(TF)": (205, 72)},
        "inference": {"Caffe2": (14.1, 7.9), "Chainer": (9.3, 2.7), "CNTK": (8.5, 1.6),
                      "MXNet(Gluon)": (None, 1.7), "Keras(CNTK)": (21.7, 5.9),
                      "Keras(TF)": (10.2, 2.9), "Tensorflow": (6.5, 1.8),
                      "MXNet(Module)": (7.7, 1.6), "PyTorch": (7.7, 1.9), "Knet": (6.3, None),
                      "R-Keras(TF)": (17, 7.4)},
        "rnn": {"CNTK": (32, 15), "Keras(CNTK)": (86, 53), "Keras(TF)": (35, 26),
                "MXNet(Module)": (29, 24), "PyTorch": (31, 16), "Tensorflow": (30, 22),
                "Knet": (29, None), "R-Keras(TF)": (35, 25)},
    }
    for task, expected in facts.items():
        rows = {r["framework"]: (r["K80"], r["P100"]) for r in ref["tasks"][task]["rows"]}
        for fw, pair in expected.items():
            assert rows[fw] == pair, (task, fw)
        assert set(rows) <= names
    # the mapping is declared by the framework modules, for rows the data file has
    assert report.match_reference({"adapter": "keras3", "variant": "tensorflow"}, ref) == "Keras(TF)"
    assert report.match_reference({"adapter": "keras3", "variant": "tensorflow-tuned"},
                                  ref) == "Keras(TF)"
    assert report.match_reference({"adapter": "tensorflow", "variant": "tuned"},
                                  ref) == "Tensorflow"
    assert report.match_reference({"adapter": "keras3", "variant": "jax"}, ref) is None
    assert report.match_reference({"adapter": "tensorflow", "variant": "reference"}, ref) == "Tensorflow"
    assert report.match_reference({"adapter": "pytorch", "variant": "tuned"}, ref) == "PyTorch"
    src = ref["source"]
    assert src["repository"].endswith("ilkarman/DeepLearningFrameworks")
    assert re.match(r"^[0-9a-f]{40}$", src["commit_read"])
    assert "CUDA 8.0.61" in src["environment"] and "cuDNN 6.0.21" in src["environment"]
    assert json.dumps(ref)  # plain JSON, loadable without extra dependencies


def test_training_time_is_the_2017_style_cell_time():
    """The figure beside the 2017 one is what the notebooks' %%time measured (cell_seconds),
    not the steady state; results written before cell_seconds existed keep train_seconds."""
    r = {"task": "cnn", "timings": {"train_seconds": 50.0, "cell_seconds": 53.5}}
    assert report.primary_value(r) == 53.5
    assert report.primary_value({"task": "rnn", "timings": {"train_seconds": 20.0}}) == 20.0
    assert report.primary_value({"task": "inference", "timings": {
        "seconds_per_1000_images": 3.0, "cell_seconds": None}}) == 3.0
    ref = report.load_reference()
    assert "cell time" in ref["tasks"]["cnn"]["unit_label"]


def test_weights_column_shows_each_rows_parameter_count(tmp_path):
    """Each framework's ResNet-50 is the one its 2017 notebook used, so the counts differ: every
    run row shows the count its runs recorded (HTML and Markdown), and its footnote names the
    network; a run that failed before building the model adds no count."""
    root = str(tmp_path)
    for r, s in enumerate((3.0, 3.2), 1):
        write(root, result("keras-3.15", "inference", s, variant="tensorflow", repeat=r))
    write(root, result("keras-3.15", "inference", variant="tensorflow", repeat=3,
                       status="failed", reason="killed", probed=False))
    write(root, result("tensorflow-2.21", "inference", 2.0))
    write(root, result("pytorch-2.13", "inference", 1.5))
    write(root, result("pytorch-2.13", "cnn", 40.0, accuracy=0.77))
    written = report.render_report(root)
    parser = TableParser()
    page = open(written["html"], encoding="utf-8").read()
    parser.feed(page)
    rows = parser.rows
    assert rows[("inference", "Keras(TF)", "keras-3.15 · tensorflow †")]["params"] == "23,587,712"
    assert rows[("inference", "Tensorflow", "tensorflow-2.21 †")]["params"] == "23,561,152"
    assert rows[("inference", "PyTorch", "pytorch-2.13 †")]["params"] == "23,561,152"
    assert rows[("cnn", "PyTorch", "pytorch-2.13")]["params"] == "3,441,592"
    assert rows[("cnn", "Caffe2", "")]["params"] == ""  # a 2017 row this run has no image for
    assert "<th rowspan=\"2\" title=\"the model's weight count" in page
    block = page.split('id="inference-p1"')[1].split("</li>")[0]  # keras, first in table order
    assert "<dt>weights</dt><dd>23,587,712</dd>" in block
    assert "keras.applications.ResNet50(include_top=False, pooling=&#39;avg&#39;)" in block
    md = open(written["md"], encoding="utf-8").read()
    inf = md_tables(md)["ResNet-50 inference: feature extraction"]
    weights = dict((r["Image"].split(" [")[0], r["Weights"]) for r in inf
                   if r["Image"] != "not run")
    assert weights == {"keras-3.15 · tensorflow †synthetic": "23,587,712",
                       "tensorflow-2.21 †synthetic": "23,561,152",
                       "pytorch-2.13 †synthetic": "23,561,152"}
    assert "weights 23,587,712" in md and "network keras.applications.ResNet50" in md
    # a row pooling runs of different counts (a task file changed between runs) shows both
    write(root, result("pytorch-2.13", "cnn", 41.0, accuracy=0.77, repeat=2))
    doc = result("pytorch-2.13", "cnn", 42.0, accuracy=0.77, repeat=3)
    doc["model"]["parameters"] = 3441000
    write(root, doc)
    view = report.build_view(root)
    cnn = [line for s in view["sections"] if s["task"] == "cnn" for line in s["lines"]
           if line["row"] and line["row"]["image"] == "pytorch-2.13"]
    assert cnn[0]["row"]["parameters"] == "3,441,000, 3,441,592"
