"""The report's request-latency table and chart (beyond 2017, which timed batch-32 inference
throughput only): ResNet-50 inference runs made with `dlbench bench --latency` carry, per batch
size, the request times' percentiles (tasks/runtime/protocol.py latency). Rows are image and
variant on one hardware; each figure is the median over the row's runs of that run's
percentile, with the runs and requests counted."""
import statistics

from . import charts

FIELDS = ("p50_ms", "p90_ms", "p99_ms")


def _row_key(entry):
    return (entry.image, entry.variant, entry.hardware)


def rows(entries, hardware_label):
    """[{"label", "image", "variant", "hardware", "runs", "sizes": [{"batch_size", "requests",
    "p50_ms", "p90_ms", "p99_ms", "spread_ms", "images_per_second"}]}] for the ok inference
    entries that measured latency, in label order."""
    grouped = {}
    for e in entries:
        lat = e.result.get("latency") if e.ok and e.task == "inference" else None
        if isinstance(lat, dict) and lat:
            grouped.setdefault(_row_key(e), []).append(lat)
    out = []
    for (image, variant, hw), runs in sorted(grouped.items(), key=lambda kv: (
            kv[0][0], kv[0][1], hardware_label(kv[0][2]))):
        sizes = sorted(set(int(k) for run in runs for k in run), key=int)
        cells = []
        for bs in sizes:
            found = [run[str(bs)] for run in runs if str(bs) in run]
            cell = {"batch_size": bs, "runs": len(found),
                    "requests": sum(int(f["requests"]) for f in found)}
            for field in FIELDS + ("images_per_second",):
                cell[field] = statistics.median(float(f[field]) for f in found)
            cell["spread_ms"] = (min(float(f["min_ms"]) for f in found),
                                 max(float(f["max_ms"]) for f in found))
            cells.append(cell)
        out.append({"label": image + ("" if variant == "reference" else " · " + variant),
                    "image": image, "variant": variant, "hardware": hardware_label(hw),
                    "runs": len(runs), "sizes": cells})
    return out


def table_lines(latency_rows):
    """The rows as table text: one line per row and batch size."""
    lines = []
    for r in latency_rows:
        for c in r["sizes"]:
            lines.append({
                "label": r["label"], "hardware": r["hardware"], "batch_size": c["batch_size"],
                "p50": charts.fmt_number(c["p50_ms"]), "p90": charts.fmt_number(c["p90_ms"]),
                "p99": charts.fmt_number(c["p99_ms"]),
                "spread": "%s–%s" % (charts.fmt_number(c["spread_ms"][0]),
                                     charts.fmt_number(c["spread_ms"][1])),
                "ips": charts.fmt_number(c["images_per_second"]),
                "runs": c["runs"], "requests": c["requests"]})
    return lines


def chart(latency_rows):
    """Bars of the median p50 per row, one series per batch size; None without rows."""
    if not latency_rows:
        return None
    sizes = sorted(set(c["batch_size"] for r in latency_rows for c in r["sizes"]))
    series = [{"label": "batch %d, p50" % bs, "kind": "run"} for bs in sizes]
    groups = []
    for r in latency_rows:
        bars = []
        for c in r["sizes"]:
            bars.append({"series": sizes.index(c["batch_size"]), "value": c["p50_ms"],
                         "synthetic": True, "partial": False, "failed": False,
                         "tip": "%s on %s, batch %d: p50 %s ms, p99 %s ms (%d runs, %d "
                                "requests) †synthetic" % (
                                    r["label"], r["hardware"], c["batch_size"],
                                    charts.fmt_number(c["p50_ms"]),
                                    charts.fmt_number(c["p99_ms"]), c["runs"],
                                    c["requests"])})
        groups.append({"label": r["label"], "sublabel": r["hardware"] + " †synthetic",
                       "bars": bars})
    return charts.bar_chart("chart-latency", "ResNet-50 request latency, p50 (lower is better)",
                            "milliseconds per request", series, groups)
