"""The report's request-latency table and chart (harness/results/latency.py): inference results
made with --latency carry per-batch-size percentiles; the report shows the median over a row's
runs of each percentile, the spread, and a chart of p50, every row marked synthetic."""
from harness.results import report
from helpers.results import result, write
from helpers.report import md_tables


def with_latency(doc, p50s):
    doc["latency"] = {}
    for bs, p50 in p50s.items():
        doc["latency"][str(bs)] = {
            "batch_size": bs, "requests": 50, "p50_ms": p50, "p90_ms": p50 * 1.2,
            "p99_ms": p50 * 1.5, "min_ms": p50 * 0.9, "max_ms": p50 * 1.6,
            "mean_ms": p50 * 1.05, "std_ms": p50 * 0.1,
            "images_per_second": bs * 1000.0 / p50}
    return doc


def test_latency_rows_median_over_runs(tmp_path):
    from harness.results import results
    for repeat, (one, eight) in enumerate(((10.0, 60.0), (12.0, 64.0), (11.0, 70.0)), 1):
        doc = with_latency(result("pytorch-2.13", "inference", 1.2, device="cpu",
                                  repeat=repeat), {1: one, 8: eight})
        assert results.validate(doc) == []
        write(tmp_path, doc)
    write(tmp_path, result("tensorflow-2.21", "inference", 1.0, device="cpu"))  # no latency
    written = report.render_report(str(tmp_path))
    md = open(written["md"], encoding="utf-8").read()
    assert "## ResNet-50 request latency (beyond 2017)" in md
    rows = md_tables(md)["ResNet-50 request latency (beyond 2017)"]
    assert [(r["Image"], r["batch"]) for r in rows] == [("pytorch-2.13 †synthetic", "1"),
                                                         ("pytorch-2.13 †synthetic", "8")]
    # the medians of the 3 runs' percentiles
    assert float(rows[0]["p50 (ms)"]) == 11.0 and float(rows[1]["p50 (ms)"]) == 64.0
    assert float(rows[0]["p99 (ms)"]) == 16.5
    assert rows[0]["runs"] == "3" and rows[0]["requests"] == "150"
    fastest, slowest = (float(v) for v in rows[0]["spread (ms)"].split("–"))
    assert (fastest, slowest) == (9.0, 19.2)  # fastest and slowest request of all runs
    html = open(written["html"], encoding="utf-8").read()
    assert 'id="chart-latency"' in html and "batch 8, p50" in html


def test_no_latency_section_without_latency_runs(tmp_path):
    write(tmp_path, result("pytorch-2.13", "inference", 1.2, device="cpu"))
    written = report.render_report(str(tmp_path))
    assert "request latency" not in open(written["md"], encoding="utf-8").read()
    assert 'id="latency"' not in open(written["html"], encoding="utf-8").read()
