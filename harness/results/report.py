"""`dlbench report`: every result under results/ rendered beside the published 2017 numbers, as
one self-contained HTML page (inline CSS and SVG charts, no JavaScript, no network) and a Markdown
file with the same tables.

What it shows, per task:
  * a row is one framework image + variant + data source + workload (epochs, --limit): repeats
    of the same thing are pooled, synthetic and real runs never are, nor full and partial runs;
  * a hardware column is one probed device (GPU name, or CPU name and CPU count);
  * a cell is the runs of one row on one hardware: median, min-max and count of the timing,
    images/s, test accuracy, MFU (achieved FLOP/s of the measured fp32 matmul peak; of the
    vendor's nominal peak on a known GPU, in the cell's tooltip) and energy per 1000 images
    where the machine's counters were readable ("—" with the reason otherwise), plus the failed
    runs with their reasons;
  * rows are grouped under the 2017 reference framework they map to
    (harness/results/data/reference_2017.json, "frameworks" -> "match"); every 2017 row is shown, and
    rows of this run without a 2017 counterpart follow.

Ranking (per task and hardware, among rows with the same data source and workload): order by
median; two neighbours are distinguishable only when both have at least two successful repeats
and their [min, max] ranges do not overlap. Neighbours that are not distinguishable share a tie,
shown with "≈" and the ranks the tie spans. A single repeat has no known spread, so it is never
ranked apart from its neighbours."""
import datetime
import json
import os
import statistics

import jinja2
import markupsafe

from . import charts
from ..core import taskfiles
from ..core import paths
from . import results
from ..core import safetext

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE_PATH = os.path.join(HERE, "data", "reference_2017.json")
TEMPLATES = os.path.join(HERE, "templates")


# ---------------------------------------------------------------- loading

def load_reference(path=None):
    with open(path or REFERENCE_PATH) as f:
        return json.load(f)


def load_results(results_dir):
    """(good, unreadable): good is [(path, result)] of schema-valid results the host collected,
    older schema versions upgraded (harness/results/upgrades.py); unreadable is [{"path", "error",
    "task", "status"}] of files that do not parse, have no / an unknown / a newer
    schema_version, do not follow the schema, or have no host provenance (a result the
    container wrote that no dlbench collected: not a measurement) (results.read_collected)."""
    return results.read_all_collected(results_dir)


# ---------------------------------------------------------------- one result

def _sorted_unique(values):
    return sorted(set(v for v in values if v not in (None, "", [])), key=str)


def _fmt_num(v, digits=None):
    if v is None:
        return ""
    if digits is not None:
        return "%.*f" % (digits, v)
    return charts.fmt_number(v)


def workload(result, ref_task):
    """(key, partial_text): what amount of work the run did, against the 2017 workload."""
    ref = ref_task.get("workload") or {}
    params = result.get("params") or {}
    data = result.get("data") or {}
    limited = data.get("limited")
    sizes = data.get("sizes") or {}
    parts = []
    if result.get("task") == "inference":
        batches = params.get("batches")
        used = sizes.get("images") or limited
        full = (ref.get("batches") or 0) * (ref.get("batch_size") or 0)
        if limited is not None or (batches is not None and batches != ref.get("batches")):
            n_batches = (result.get("timings") or {}).get("batches")
            parts.append("%s of %s images%s" % (used if used is not None else "?", full,
                         " (%s of %s batches)" % (n_batches, ref.get("batches"))
                                                if n_batches else ""))
        key = (batches, limited)
    else:
        epochs = params.get("epochs")
        if epochs is not None and epochs != ref.get("epochs"):
            parts.append("%s of %s epochs" % (epochs, ref.get("epochs")))
        if limited is not None:
            used = sizes.get("train") or limited
            parts.append("%s of %s examples" % (used, ref.get("train_examples")))
        key = (epochs, limited)
        # densenet's quick-check knobs (tasks/run.py --image-size, --batch-size): recorded in
        # the params, never beside a 2017 figure
        for knob, ref_key, what in (("image_size_override", "width", "crop %s px of %s"),
                                    ("batch_size_override", "batch_size", "batch %s of %s")):
            if params.get(knob) is not None:
                parts.append(what % (params[knob], ref.get(ref_key)))
                key = key + ((knob, params[knob]),)
    return key, ("partial: " + ", ".join(parts)) if parts else None


def densenet_reference_task(reference, task):
    """The multi-GPU table's reference (reference_2017.json "multi_gpu") as the workload() and
    Entry code read a single-GPU task: its epochs and 2017's training images per epoch."""
    ref = (reference.get("multi_gpu") or {}).get(task)
    if ref is None:
        raise KeyError("no 2017 reference for task %s" % task)
    hp = ref.get("hyperparameters") or {}
    return {"workload": {"epochs": hp.get("epochs"), "batch_size": hp.get("batch_size"),
                         "width": hp.get("width"), "train_examples": DENSENET_TRAIN_IMAGES},
            "rows": [], "title": ref["title"], "unit": ref["unit"],
            "unit_label": ref["unit_label"], "table": ref["table"]}


ORIGINALS_NOTE = ("read the 1024 px originals, resized as read (2017: 264 px copies made "
                  "once): NOT comparable with 2017's minutes; `dlbench data prepare "
                  "chestxray14`")


def densenet_input_note(result):
    """The row note of a real-data DenseNet run whose loaders resized the originals on every
    read (result.data.images.read "originals"; results written before that record existed
    read the originals too): a heavier loader than 2017's, whose loaders decoded 264x264
    copies made once (utils.resize_im). None for prepared copies, synthetic runs, other
    tasks."""
    data = result.get("data") or {}
    if result.get("task") != "densenet" or data.get("source") != "real":
        return None
    images = data.get("images") if isinstance(data.get("images"), dict) else {}
    return None if images.get("read") == "prepared" else ORIGINALS_NOTE


# 2017's training split ("Loaded 87306 labels and 87306 images" in every MultiGPU notebook;
# tasks/common/params.py DENSENET["train_images"])
DENSENET_TRAIN_IMAGES = 87306


def hardware_of(result):
    """(device, name, cpu_count) as probed; name None when the run failed before probing."""
    env = result.get("env") or {}
    device = result.get("device") or ("gpu" if env.get("gpu") else "cpu")
    if device == "gpu":
        return ("gpu", env.get("gpu") or None, None)
    return ("cpu", env.get("cpu") or None, env.get("cpu_count"))


def hardware_label(hw):
    device, name, count = hw
    if name is None:
        return "%s (device not probed)" % device.upper()
    if device == "cpu":
        return "%s CPU%s" % (name, " ×%d" % count if count else "")
    return name


def primary_value(result):
    """The figure set beside the 2017 one. Training: the 2017-style cell time (cell_seconds:
    what the notebooks' %%time measured, first step included), else, for results written before
    it was recorded, the steady-state train_seconds. Images/s stays the steady-state rate.
    DenseNet on real data too: its cell time already spans every validation pass (2017's
    real-data table timed train + validation in one cell; tasks/runtime/protocol.py
    train_loader), so nothing is added to it."""
    t = result.get("timings") or {}
    if result.get("task") == "inference":
        return t.get("seconds_per_1000_images")
    if t.get("cell_seconds") is not None:
        return t["cell_seconds"]
    return t.get("train_seconds")


def match_reference(result, reference):
    """The 2017 row this result stands beside: what its framework module declares for its
    variant (tasks/frameworks/<adapter>.py), when the reference has that row; else None."""
    fw = taskfiles.find(result.get("adapter") or "")
    row = fw.reference_row(result.get("variant")) if fw is not None else None
    return row if row in {f["name"] for f in reference["frameworks"]} else None


class Entry:
    """One result file, reduced to what the report needs."""

    def __init__(self, path, result, reference, results_dir):
        self.path = path
        self.relpath = os.path.relpath(path, results_dir)
        self.result = result
        prov = result.get("provenance") or {}
        self.prov = prov
        self.task = result["task"]
        self.image = result.get("image") or prov.get("image") or result.get("adapter")
        self.variant = result.get("variant") or "reference"
        self.source = (result.get("data") or {}).get("source") or "real"
        ref_task = reference["tasks"].get(self.task) or densenet_reference_task(
            reference, self.task)
        self.workload_key, self.partial = workload(result, ref_task)
        self.input_note = densenet_input_note(result)
        if self.input_note:  # never pooled with runs that read 2017's prepared copies
            self.workload_key = self.workload_key + (("images", "originals"),)
        self.hardware = hardware_of(result)
        self.ok = result.get("status") == "ok" and primary_value(result) is not None
        self.status = result.get("status")
        self.reason = result.get("reason") or (
            None if self.ok else "no timing recorded" if result.get("status") == "ok" else
            "no reason recorded")
        self.value = primary_value(result) if self.ok else None
        t, m = result.get("timings") or {}, result.get("metrics") or {}
        self.ips = t.get("images_per_second") if self.ok else None
        self.accuracy = m.get("test_accuracy") if self.ok else None
        if self.task == "densenet":
            self.accuracy = m.get("test_auc") if self.ok else None
            parallel = result.get("parallel") or {}
            self.devices = parallel.get("devices") or (result.get("params") or {}).get(
                "devices") or 1
            self.ips_per_device = t.get("images_per_second_per_device") if self.ok else None
        self.reference_name = match_reference(result, reference)
        model = result.get("model") or {}
        # what tasks/run.py counted and checked against the task file's declared count
        self.parameters = model.get("parameters") if isinstance(
            model.get("parameters"), int) else None
        settings = (result.get("env") or {}).get("adapter_settings") or {}
        self.network = settings.get("network") if isinstance(settings, dict) else None
        self.repeat = prov.get("repeat")
        self.run_id = prov.get("run_id")
        # MFU (tasks/measure/flops.py, peak.py; the nominal share from harness/results/mfu.py)
        mfu = result.get("mfu") if isinstance(result.get("mfu"), dict) else {}
        peak = result.get("peak") if isinstance(result.get("peak"), dict) else {}
        peak_check = (result.get("checks") or {}).get("peak") or {}
        above = isinstance(peak_check, dict) and peak_check.get("flagged")
        self.mfu = _number(mfu.get("of_measured_peak")) if self.ok and not above else None
        self.mfu_nominal = _number(mfu.get("of_nominal_peak")) if self.ok else None
        self.nominal_gpu = mfu.get("nominal_gpu")
        self.achieved_gflops = _number(mfu.get("achieved_gflops")) if self.ok else None
        self.peak_gflops = _number(peak.get("gflops"))
        self.peak_method = peak.get("method")
        self.mfu_reason = None if self.mfu is not None else (
            "above the measured peak, probed twice (tasks/run.py check_peak)" if above
            else "no MFU recorded (a result from before the peak probe)" if not mfu
            else result.get("peak_error") or "no peak measured")
        # energy per 1000 images over the timed span (tasks/measure/energy.py)
        self.energy_parts, self.energy_reason = energy_of(result) if self.ok else ({}, None)
        # what the measurement's own checks flagged (the clock check, CPU contention)
        self.flags = results.check_notes(result) if self.ok else []


def flag_counts(entries):
    """What the measurements' own checks flagged across entries, each check once with how many
    of the ok runs it flagged: "CPU contention: ... in 1 of 3 runs"."""
    counts = {}
    for e in entries:
        for note in e.flags:
            key = note.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
    ok = len([e for e in entries if e.ok])
    return ["%s in %d of %d run%s" % (k, n, ok, "s" if ok != 1 else "")
            for k, n in sorted(counts.items())]


def _number(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def energy_of(result):
    """({part: joules per 1000 images}, reason): the readable parts (cpu_package, gpu) of the
    result's energy, and why the others (or all) are absent."""
    energy = result.get("energy")
    if "energy" not in result:
        return {}, "no energy recorded (a result from before the energy meter)"
    if not isinstance(energy, dict):
        return {}, result.get("energy_absent_reason") or "counters not readable"
    parts, reasons = {}, []
    for part in ("cpu_package", "gpu"):
        rec = energy.get(part)
        if isinstance(rec, dict) and _number(rec.get("joules_per_1000_images")) is not None:
            parts[part] = rec["joules_per_1000_images"]
        elif energy.get(part + "_absent_reason"):
            reasons.append(energy[part + "_absent_reason"])
    return parts, "; ".join(reasons) or None


# ---------------------------------------------------------------- cells, rows, ranking

def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


class Cell:
    def __init__(self, entries):
        self.entries = entries
        self.ok = [e for e in entries if e.ok]
        self.failed = [e for e in entries if not e.ok]
        self.time = _stats([e.value for e in self.ok])
        self.ips = _stats([e.ips for e in self.ok])
        self.accuracy = _stats([e.accuracy for e in self.ok])
        self.mfu = _stats([e.mfu for e in self.ok])
        self.mfu_nominal = _stats([e.mfu_nominal for e in self.ok])
        self.energy = dict((part, _stats([e.energy_parts.get(part) for e in self.ok]))
                           for part in ("cpu_package", "gpu"))
        self.rank = None          # text shown, e.g. "1" or "≈ 2–3"
        self.rank_note = None     # why (tooltip / footnote text)
        self.rank_tied = False

    @property
    def failed_reasons(self):
        return _sorted_unique(e.reason for e in self.failed)


class TableRow:
    def __init__(self, task, image, variant, source, workload_key, partial, reference_name):
        self.task = task
        self.image = image
        self.variant = variant
        self.source = source
        self.workload_key = workload_key
        self.partial = partial
        self.reference_name = reference_name
        self.entries = []
        self.cells = {}
        self.reference = None  # the 2017 row of this task (dict) or None
        self.footnote = None

    @property
    def synthetic(self):
        return self.source == "synthetic"

    @property
    def label(self):
        return self.image + ("" if self.variant == "reference" else " · " + self.variant)

    @property
    def parameters(self):
        """The model's weight counts its runs recorded (one, unless the row pools runs of
        different task files), as text: "23,587,712"; "" when no run got that far."""
        return ", ".join("{:,}".format(n) for n in sorted(set(
            e.parameters for e in self.entries if e.parameters is not None)))

    @property
    def flags(self):
        """The checks that flagged some of the row's runs, each once, with how many runs:
        "clock stopped before the device finished (... ) in 1 of 3 runs"."""
        return flag_counts(self.entries)

    @property
    def networks(self):
        """Which network the runs built (the task file's SETTINGS["network"]), when recorded."""
        return _sorted_unique(e.network for e in self.entries)

    def group_key(self):
        return (self.source, self.workload_key)


def _resolve_hardware(entries):
    """Give runs that failed before probing the device the one probed device of their kind."""
    known = {}
    for e in entries:
        if e.hardware[1] is not None:
            known.setdefault(e.hardware[0], set()).add(e.hardware)
    for e in entries:
        if e.hardware[1] is None and len(known.get(e.hardware[0], ())) == 1:
            e.hardware = next(iter(known[e.hardware[0]]))


def _hardware_order(hw):
    return (0 if hw[0] == "gpu" else 1, hw[1] is None, hw[1] or "", hw[2] or 0)


def build_rows(entries, task):
    rows = {}
    for e in entries:
        if e.task != task:
            continue
        key = (e.image, e.variant, e.source, e.workload_key)
        if key not in rows:
            rows[key] = TableRow(task, e.image, e.variant, e.source, e.workload_key, e.partial,
                                 e.reference_name)
        rows[key].entries.append(e)
    # A run that failed before recording its parameters (no epochs) joins a sibling row of the
    # same image, variant and data source rather than standing alone.
    for key in list(rows):
        row = rows[key]
        if all(not e.ok for e in row.entries) and key[3][0] is None:
            siblings = [k for k in rows if k != key and k[:3] == key[:3]]
            if siblings:
                target = rows[sorted(siblings, key=str)[0]]
                target.entries.extend(row.entries)
                del rows[key]
    return list(rows.values())


def rank_cells(cells, lower_is_better=True):
    """Mark rank/ties on cells that hold comparable successful timings (see module doc)."""
    cells = [c for c in cells if c.time]
    if len(cells) < 2:
        for c in cells:
            c.rank_note = "no other comparable row on this hardware"
        return
    cells.sort(key=lambda c: c.time["median"] * (1 if lower_is_better else -1))
    tiers, current = [], [cells[0]]
    for a, b in zip(cells, cells[1:]):
        if lower_is_better:
            apart = a.time["max"] < b.time["min"]
        else:
            apart = a.time["min"] > b.time["max"]
        if apart and a.time["n"] >= 2 and b.time["n"] >= 2:
            tiers.append(current)
            current = [b]
        else:
            current.append(b)
    tiers.append(current)
    position = 1
    for tier in tiers:
        last = position + len(tier) - 1
        for c in tier:
            if len(tier) == 1:
                c.rank = str(position)
                c.rank_note = "ranges of the repeats do not overlap with its neighbours"
            else:
                c.rank_tied = True
                c.rank = "≈ %d–%d" % (position, last)
                single = any(o.time["n"] < 2 for o in tier)
                c.rank_note = ("not distinguishable: " +
                               ("a single repeat has no known spread" if single
                                else "the min–max ranges of the repeats overlap"))
        position = last + 1


# ---------------------------------------------------------------- the report model

def cpu_limit(result):
    """What holds this variant's task below the CPU's peak, as its framework module says
    (VARIANTS "cpu_limits", measured there), for a CPU run; None where it says nothing."""
    if result.get("device") != "cpu" or not isinstance(result.get("adapter"), str):
        return None
    fw = taskfiles.find(result["adapter"])
    variant = fw.variant(result.get("variant")) if fw is not None else None
    return ((variant or {}).get("cpu_limits") or {}).get(result.get("task"))


def _prov_lines(row, results_dir):
    es = row.entries
    # runs that failed before probing have an empty env: describe the probed ones
    probed = [e for e in es if (e.result.get("env") or {}).get("framework_version")] or es
    env = [e.result.get("env") or {} for e in probed]
    prov = [e.prov for e in es]
    started = _sorted_unique(e.result.get("started") for e in es)
    finished = _sorted_unique(e.result.get("finished") for e in es)
    items = [
        ("image", _sorted_unique(e.result.get("image") or e.prov.get("image")
                                 or e.prov.get("image_tag") for e in es) or [row.image]),
        ("image id", _sorted_unique(p.get("image_id") for p in prov)),
        ("image digest", _sorted_unique(p.get("image_digest") for p in prov)),
        ("Dockerfile sha256", _sorted_unique(p.get("dockerfile_sha256") for p in prov)),
        ("adapter", _sorted_unique("%s (%s)" % (e.result.get("adapter"), e.variant) for e in es)),
        ("framework", _sorted_unique(
            ("%s %s" % (e.result.get("framework"),
                        (e.result.get("env") or {}).get("framework_version") or "")).strip()
            for e in probed)),
        ("CUDA", _sorted_unique(v.get("cuda") for v in env)),
        ("cuDNN", _sorted_unique(v.get("cudnn") for v in env)),
        ("Python", _sorted_unique(v.get("python") for v in env)),
        ("numpy", _sorted_unique(v.get("numpy") for v in env)),
        ("GPU driver", _sorted_unique(p.get("gpu_driver") for p in prov)),
        ("Docker", _sorted_unique(p.get("docker_version") for p in prov)),
        ("host", _sorted_unique(p.get("host") for p in prov)),
        ("environment set (-e)", _sorted_unique(
            " ".join("%s=%s" % kv for kv in sorted(p["user_env"].items()))
            for p in prov if isinstance(p.get("user_env"), dict))),
        ("data", _sorted_unique("%s: %s" % (e.source, (e.result.get("data") or {}).get("dataset") or "")
                                for e in es)),
        ("network", row.networks),
        ("what limits it on the CPU", _sorted_unique(cpu_limit(e.result) for e in es)),
        ("weights", [row.parameters] if row.parameters else []),
        ("runs", _sorted_unique(e.run_id for e in es)),
        ("dates", ["%s – %s" % (started[0], finished[-1])] if started and finished else []),
    ]
    return [(k, ", ".join(str(x) for x in v)) for k, v in items if v]


def _cell_view(cell):
    """Strings for one table cell (shared by HTML and Markdown)."""
    if cell is None:
        return None
    v = {"time": None, "spread": None, "ips": None, "accuracy": None, "n": 0,
         "failed": len(cell.failed), "reasons": cell.failed_reasons, "rank": cell.rank,
         "rank_note": cell.rank_note, "rank_tied": cell.rank_tied}
    if cell.time:
        t = cell.time
        v["n"] = t["n"]
        v["time"] = _fmt_num(t["median"])
        if t["n"] > 1:
            v["spread"] = "%s–%s" % (_fmt_num(t["min"]), _fmt_num(t["max"]))
    if cell.ips:
        v["ips"] = _fmt_num(cell.ips["median"])
    if cell.accuracy:
        v["accuracy"] = _fmt_num(cell.accuracy["median"], 3)
    v["mfu"], v["mfu_title"] = _mfu_view(cell)
    v["energy"], v["energy_title"] = _energy_view(cell)
    return v


EQUIVALENCE_MARK = {"ok": "✓", "mismatch": "✗", "failed": "✗", "not-checked": "✗",
                    "not-comparable": "n/c"}


def equivalence_marks(results_dir):
    """(newest check id or None, {(image, variant, task): {"mark", "title"}}) from the
    `dlbench check-models` summaries under results_dir/check-models
    (harness/checks/check_models.py), each row as the newest summary that checked it saw it:
    ✓ matched the numpy reference of its structure family, ✗ mismatch / failed / not checked,
    n/c not comparable at fp32 tolerance; the title says why (hover, and the row's footnote)."""
    from . import checksummaries
    rows = checksummaries.latest_rows(results_dir)
    if not rows:
        return None, {}
    marks = {}
    for doc, r in rows:
        status = r.get("status")
        if status == "ok":
            title = "model equivalence ✓: family %s, max rel diff %.1e against the numpy " \
                    "reference (%s)" % (r.get("family"), r.get("max_rel_diff") or 0.0,
                                        doc.get("tolerance"))
        else:
            title = "model equivalence %s (%s): %s" % (
                EQUIVALENCE_MARK.get(status, "?"), status,
                r.get("reason") or "no reason recorded")
        marks[(r.get("image"), r.get("variant"), r.get("task"))] = {
            "mark": EQUIVALENCE_MARK.get(status, "?"), "status": status,
            "title": "%s; check-models %s" % (title, doc.get("id"))}
    return checksummaries.latest(results_dir).get("id"), marks


def percent(share):
    return "%.1f %%" % (100.0 * share) if share < 0.1 else "%.0f %%" % (100.0 * share)


def _mfu_view(cell):
    """("45 %", tooltip) for the cell's MFU of the measured peak (median of its runs), or
    (None, why not)."""
    if not cell.ok:
        return None, None
    if cell.mfu is None:
        return None, "; ".join(_sorted_unique(e.mfu_reason for e in cell.ok))
    first = cell.ok[0]
    achieved = _stats([e.achieved_gflops for e in cell.ok])
    peak = _stats([e.peak_gflops for e in cell.ok])
    tip = ["median of %d run(s): achieved %s GFLOP/s of the measured fp32 matmul peak %s "
           "GFLOP/s (%s)" % (cell.mfu["n"], _fmt_num(achieved["median"]) if achieved else "?",
                             _fmt_num(peak["median"]) if peak else "?",
                             first.peak_method or "peak probe")]
    if cell.mfu["n"] > 1:
        tip.append("MFU range %s–%s" % (percent(cell.mfu["min"]), percent(cell.mfu["max"])))
    if cell.mfu_nominal:
        tip.append("of the %s nominal fp32 peak (data sheet): %s" % (
            first.nominal_gpu or "GPU", percent(cell.mfu_nominal["median"])))
    return percent(cell.mfu["median"]), "; ".join(tip)


def _energy_view(cell):
    """("12.3", tooltip): joules per 1000 images (CPU package + GPU where both were read), or
    (None, the reason the counters were not readable)."""
    if not cell.ok:
        return None, None
    parts = [(k, s) for k, s in sorted(cell.energy.items()) if s]
    if not parts:
        return None, "energy absent: %s" % ("; ".join(_sorted_unique(
            e.energy_reason for e in cell.ok)) or "not recorded")
    names = {"cpu_package": "CPU package (RAPL, the whole package)", "gpu": "GPU (NVML)"}
    total = sum(st["median"] for _, st in parts)
    tip = "joules per 1000 images over the timed span, median of the runs: " + "; ".join(
        "%s %s J" % (names[k], _fmt_num(st["median"])) for k, st in parts)
    return _fmt_num(total), tip


def build_view(results_dir, reference=None):
    """Everything the templates show (sections, tables, charts, unreadable files), as plain
    dicts and strings."""
    reference = reference or load_reference()
    check_id, eq_marks = equivalence_marks(results_dir)
    entries, unreadable = load_entries(results_dir, reference)
    hw_cols = hardware_columns(entries)
    sections, multi_gpu = [], []
    for task in taskfiles.task_names():
        if task not in reference["tasks"]:  # densenet: its own tables (the multi-GPU ones)
            if task in (reference.get("multi_gpu") or {}):
                multi_gpu.append(densenet_section(task, entries, reference, results_dir,
                                                  eq_marks, check_id))
            continue
        sections.append(task_section(task, entries, reference, hw_cols, results_dir,
                                     eq_marks, check_id, unreadable))
    return {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "results_dir": results_dir,
        "hardware": hw_cols,
        "reference_hardware": reference["hardware"],
        "reference_source": reference["source"],
        "sections": sections,
        "latency": _latency_view(entries),
        "multi_gpu": multi_gpu,
        "unreadable": unreadable,
        "n_results": len(entries),
        "n_failed": sum(1 for e in entries if not e.ok),
        "n_synthetic": sum(1 for e in entries if e.source == "synthetic"),
        "runs": _sorted_unique(e.run_id for e in entries),
    }


def _latency_view(entries):
    """The request-latency table and chart (harness/results/latency.py), or None when no
    inference run measured it."""
    from . import latency
    found = latency.rows(entries, hardware_label)
    if not found:
        return None
    return {"lines": latency.table_lines(found), "chart": latency.chart(found)}


def load_entries(results_dir, reference):
    """([Entry], [unreadable file dicts]): every result under results_dir the report can read,
    and the files it cannot (with why and their path relative to results_dir)."""
    good, unreadable = load_results(results_dir)
    entries = []
    for path, doc in good:
        try:
            entries.append(Entry(path, doc, reference, results_dir))
        except (KeyError, TypeError, ValueError) as e:
            unreadable.append({"path": path, "task": doc.get("task"),
                               "error": "cannot be read for the report: %s" % e})
    for u in unreadable:
        u["relpath"] = os.path.relpath(u["path"], results_dir)
    _resolve_hardware(entries)
    return entries, unreadable


def hardware_columns(entries):
    """The table's hardware columns, one per (device, name) the entries ran on, in order."""
    hardware = sorted(set(e.hardware for e in entries), key=_hardware_order)
    return [{"key": hw, "label": hardware_label(hw), "device": hw[0], "index": i}
            for i, hw in enumerate(hardware)]


def place_cells(rows, hw_cols, lower_is_better):
    """Each row's cell per hardware column, ranked within (hardware, comparable workload)."""
    hardware = [hw["key"] for hw in hw_cols]
    for row in rows:
        for hw in hardware:
            es = [e for e in row.entries if e.hardware == hw]
            if es:
                row.cells[hw] = Cell(es)
    for hw in hardware:
        groups = {}
        for row in rows:
            if hw in row.cells:
                groups.setdefault(row.group_key(), []).append(row.cells[hw])
        for cells in groups.values():
            rank_cells(cells, lower_is_better)


def reference_groups(rows, ref_task, reference):
    """The rows grouped by the 2017 row they stand beside, in the 2017 table's order (then the
    2017 frameworks this table lacks, then rows with no 2017 row, one group each)."""
    fw_order = [f["name"] for f in reference["frameworks"]]
    fw_info = {f["name"]: f for f in reference["frameworks"]}
    ref_rows = {r["framework"]: r for r in ref_task["rows"]}
    table_order = [r["framework"] for r in ref_task["rows"]]
    by_ref = {}
    for row in rows:
        by_ref.setdefault(row.reference_name, []).append(row)

    def in_order(members):
        return sorted(members, key=lambda r: (r.image, r.variant, r.source, str(r.workload_key)))

    groups = []
    for name in table_order + [n for n in fw_order if n not in table_order and n in by_ref]:
        groups.append({"name": name, "reference": ref_rows.get(name),
                       "versions": fw_info.get(name, {}).get("versions"),
                       "rows": in_order(by_ref.get(name, []))})
    for row in in_order(by_ref.get(None, [])):
        groups.append({"name": None, "reference": None, "versions": None, "rows": [row]})
    return groups


def reference_view(ref, group_name, ref_task):
    """A group's 2017 cells as shown (None where 2017 published nothing)."""
    return {
        "K80": "%g" % ref["K80"] if ref and ref.get("K80") is not None else None,
        "P100": "%g" % ref["P100"] if ref and ref.get("P100") is not None else None,
        "accuracy": "%g" % ref["accuracy"] if ref and ref.get("accuracy") else None,
        "notes": (ref or {}).get("notes") or [],
        "in_table": ref is not None,
        # a 2017 framework without a row in this task's table (Chainer had no RNN)
        "missing": "no 2017 %s %s" % (group_name, ref_task["title"].split()[0])
        if ref is None and group_name else None,
    }


def provenance_summary(row, items):
    """A footnote's one-line summary: framework, image digest, CUDA, dates, result files."""
    short = dict(items)
    return " · ".join(x for x in (
        short.get("framework"),
        ", ".join(x.split(",")[0][:19] + "…" for x in
                  [short.get("image digest") or short.get("image id")] if x),
        "CUDA %s / cuDNN %s" % (short["CUDA"], short.get("cuDNN", "?"))
        if short.get("CUDA") else None,
        short.get("dates"),
        "%d result file%s" % (len(row.entries), "s" if len(row.entries) != 1 else ""),
    ) if x)


def row_view(row, task, n, mark):
    """One of this run's rows as the table shows it (n: its footnote number)."""
    return {"label": row.label, "image": row.image, "variant": row.variant,
            "synthetic": row.synthetic, "parameters": row.parameters, "partial": row.partial,
            "footnote": n, "flags": row.flags, "anchor": "%s-p%d" % (task, n),
            "equivalence": mark}


def footnote_view(row, task, n, mark, results_dir):
    """A row's footnote: where its figures come from, and its failures."""
    items = _prov_lines(row, results_dir)
    return {"n": n, "summary": provenance_summary(row, items), "anchor": "%s-p%d" % (task, n),
            "label": row.label, "synthetic": row.synthetic, "partial": row.partial,
            "flags": row.flags, "items": items, "equivalence": mark,
            "files": sorted(e.relpath for e in row.entries),
            "failures": sorted(("%s (r%s): %s" % (e.relpath, e.repeat, e.reason))
                               for e in row.entries if not e.ok)}


def table_lines(task, ref_task, groups, hw_cols, results_dir, eq_marks, check_id):
    """(lines, footnotes): the groups flattened into table lines (a 2017 row spanning its
    rows of this run), each row numbered with its footnote."""
    lines, footnotes, n = [], [], 0
    for g in groups:
        ref = reference_view(g["reference"], g["name"], ref_task)
        members = g["rows"] or [None]
        for i, row in enumerate(members):
            line = {"group": g["name"], "first": i == 0, "span": len(members), "ref": ref,
                    "versions": g["versions"], "row": None, "cells": [],
                    "group_index": len([x for x in lines if x["first"]])}
            if row is not None:
                n += 1
                row.footnote = n
                mark = equivalence_mark(eq_marks, check_id, row.image, row.variant, task)
                line["row"] = row_view(row, task, n, mark)
                line["cells"] = [_cell_view(row.cells.get(hw["key"])) for hw in hw_cols]
                footnotes.append(footnote_view(row, task, n, mark, results_dir))
            else:
                line["cells"] = [None for _ in hw_cols]
            lines.append(line)
    return lines, footnotes


def task_section(task, entries, reference, hw_cols, results_dir, eq_marks, check_id,
                 unreadable):
    """One task's table beside 2017's (rows, cells, ranks, footnotes, charts)."""
    ref_task = reference["tasks"][task]
    rows = build_rows(entries, task)
    place_cells(rows, hw_cols, ref_task.get("lower_is_better", True))
    groups = reference_groups(rows, ref_task, reference)
    lines, footnotes = table_lines(task, ref_task, groups, hw_cols, results_dir, eq_marks,
                                   check_id)
    return {
        "task": task, "title": ref_task["title"], "unit": ref_task["unit"],
        "unit_label": ref_task["unit_label"], "source_table": ref_task["table"],
        "published_accuracy": ref_task.get("published_accuracy"),
        "workload": ref_task.get("workload"),
        "lines": lines, "footnotes": footnotes,
        "ref_notes": [(r["framework"], note) for r in ref_task["rows"]
                      for note in r.get("notes", [])],
        "charts": _charts(task, ref_task, reference["hardware"], hw_cols, groups),
        "n_results": sum(len(r.entries) for r in rows),
        "n_failed": sum(1 for r in rows for e in r.entries if not e.ok),
        "has_synthetic": any(r.synthetic for r in rows),
        "has_partial": any(r.partial for r in rows),
        "unreadable": [u for u in unreadable if u.get("task") == task],
    }


# ---------------------------------------------------------------- the multi-GPU (DenseNet) tables

def _minutes(stats):
    return None if not stats else _fmt_num(stats["median"] / 60.0, 1)


def equivalence_mark(eq_marks, check_id, image, variant, task):
    """A row's model-equivalence mark (equivalence_marks), "?" when the newest checks did not
    cover it, None when no check ever ran."""
    if not check_id:
        return None
    return eq_marks.get((image, variant, task),
                        {"mark": "?", "status": None,
                         "title": "model equivalence: not in any check-models summary "
                                  "(newest: %s)" % check_id})


def densenet_section(task, entries, reference, results_dir, eq_marks=None, check_id=None):
    """2017's two DenseNet tables (real data: train + validation; synthetic data in RAM:
    training only), each 2017 row with its 1xV100 and 4xV100 minutes and their scaling
    efficiency, and beside it this run's rows: one per image, variant, device kind and name,
    and workload, with the 1-device and the N-device runs side by side (minutes: median over
    the runs; images/s per device; scaling efficiency = N-device images/s / (N x 1-device
    images/s); test AUC). Synthetic and real runs are never pooled; partial runs (--epochs,
    --limit, --image-size, --batch-size) say so and are not comparable with 2017's minutes.
    Each row carries its image and variant's model-equivalence mark (`dlbench check-models`)."""
    ref = reference["multi_gpu"][task]
    mine = [e for e in entries if e.task == task]
    tables = []
    for source in ("real", "synthetic"):
        groups = {}
        for e in mine:
            if e.source != source:
                continue
            device, name, count = e.hardware
            key = (e.reference_name, e.image, e.variant, e.workload_key, device, name)
            groups.setdefault(key, []).append(e)
        lines = []
        ref_order = [r["framework"] for r in ref["rows"]]
        names = ref_order + sorted(set(k[0] for k in groups if k[0] not in ref_order),
                                   key=lambda n: (n is None, n or ""))
        for name in names:
            row = next((r for r in ref["rows"] if r["framework"] == name), None)
            ref_view = densenet_reference_view(row, ref, source)
            members = sorted((k for k in groups if k[0] == name), key=str)
            if not members:
                lines.append({"group": name, "ref": ref_view, "row": None})
                continue
            for i, key in enumerate(members):
                mark = equivalence_mark(eq_marks or {}, check_id, groups[key][0].image,
                                        groups[key][0].variant, task)
                lines.append({"group": name if i == 0 else None,
                              "ref": ref_view if i == 0 else None,
                              "row": densenet_row_view(groups[key], key[4], source, mark)})
        tables.append({"source": source, "caption": ref["data"][source], "lines": lines})
    return {"task": task, "title": ref["title"], "table": ref["table"],
            "unit_label": ref["unit_label"], "hardware": ref["hardware"], "tables": tables,
            "n_results": len(mine),
            "ref_notes": [(r["framework"], note) for r in ref["rows"]
                          for note in r.get("notes") or []]}


def densenet_reference_view(row, ref, source):
    """A 2017 DenseNet row's 1xV100 and 4xV100 minutes, scaling efficiency and AUCs (None:
    no 2017 row)."""
    if row is None:
        return None
    hw = [h["key"] for h in ref["hardware"]]  # 1xV100, 4xV100
    ref_gpus = dict((h["key"], h["gpus"]) for h in ref["hardware"])
    m = row["minutes"].get(source) or {}
    one, many = m.get(hw[0]), m.get(hw[-1])
    eff = (one / float(many) / ref_gpus[hw[-1]]) if one and many else None
    auc = row.get("test_auc") or {}
    return {"one": one, "many": many,
            "efficiency": "%.0f%%" % (100 * eff) if eff else None,
            "auc_one": auc.get(hw[0]) if source == "real" else None,
            "auc_many": auc.get(hw[-1]) if source == "real" else None}


def densenet_row_view(es, device, source, mark):
    """One of this run's DenseNet rows: the 1-device and N-device runs of es side by side."""
    ok = [e for e in es if e.ok]
    n = max(set(e.devices for e in es))
    one = [e for e in ok if e.devices == 1]
    many = [e for e in ok if e.devices == n and n > 1]
    t1, tn = _stats([e.value for e in one]), _stats([e.value for e in many])
    i1 = _stats([e.ips_per_device for e in one])
    i_n = _stats([e.ips_per_device for e in many])
    eff = (i_n["median"] / i1["median"]) if i1 and i_n and i1["median"] else None
    # synthetic labels are random and the test images come from the training
    # pool: an AUC there says nothing (2017's synthetic table has none), so none
    a1, an = ((None, None) if source == "synthetic" else
              (_stats([e.accuracy for e in one]), _stats([e.accuracy for e in many])))
    first = es[0]
    return {
        "label": first.image + ("" if first.variant == "reference" else " · " + first.variant),
        "hardware": hardware_label(first.hardware),
        "partial": first.partial, "synthetic": source == "synthetic",
        "input_note": first.input_note,
        "n": n, "kind": "GPU" if device == "gpu" else "CPU replica",
        "one": _minutes(t1), "one_runs": t1["n"] if t1 else 0,
        "many": _minutes(tn), "many_runs": tn["n"] if tn else 0,
        "ips_one": _fmt_num(i1["median"]) if i1 else None,
        "ips_many": _fmt_num(i_n["median"]) if i_n else None,
        "efficiency": "%.0f%%" % (100 * eff) if eff else None,
        "auc_one": _fmt_num(a1["median"], 3) if a1 else None,
        "auc_many": _fmt_num(an["median"], 3) if an else None,
        "mfu_one": _mfu_cell([e.mfu for e in one]),
        "mfu_many": _mfu_cell([e.mfu for e in many]),
        "flags": flag_counts(es),
        "failed": ["%s: %s" % (e.relpath, e.reason) for e in es if not e.ok],
        "files": sorted(e.relpath for e in es),
        "equivalence": mark}


def _mfu_cell(values):
    """The median MFU (per device, against the measured peak) of some runs, as "61%"; None
    when none of them recorded one."""
    st = _stats([v for v in values if v is not None])
    return "%.0f%%" % (100 * st["median"]) if st else None


def _derived_ips(ref_task, seconds):
    """2017 images/s from a published time: complete minibatches x epochs / seconds."""
    w = ref_task.get("workload") or {}
    if not seconds:
        return None
    if "epochs" in w:
        per_epoch = (w["train_examples"] // w["batch_size"]) * w["batch_size"]
        return w["epochs"] * per_epoch / float(seconds)
    return 1000.0 / seconds


def _charts(task, ref_task, ref_hw, hw_cols, groups):
    series = [{"label": "2017 %s" % h["label"], "kind": "reference"} for h in ref_hw] + \
             [{"label": "this run: %s" % h["label"], "kind": "run"} for h in hw_cols]
    training = task != "inference"

    def groups_of(metric):
        return chart_groups(metric, groups, ref_task, ref_hw, hw_cols, training)

    result = []
    mfu_chart = _mfu_chart(task, ref_task, hw_cols, groups)
    if training:
        result.append(charts.bar_chart(
            "chart-%s-time" % task, "%s — time, lower is better" % ref_task["title"],
            "seconds for the full %d-epoch run (partial runs are in the throughput chart)"
            % ref_task["workload"]["epochs"], series, groups_of("time")))
        result.append(charts.bar_chart(
            "chart-%s-ips" % task, "%s — throughput, higher is better" % ref_task["title"],
            "training images per second (2017: derived from the published times)",
            series, groups_of("ips")))
    else:
        result.append(charts.bar_chart(
            "chart-%s-time" % task, "%s — seconds per 1000 images, lower is better"
            % ref_task["title"], "seconds per 1000 images", series, groups_of("time")))
    if mfu_chart is not None:
        result.append(mfu_chart)
    return result


def chart_groups(metric, groups, ref_task, ref_hw, hw_cols, training):
    """A chart's groups of bars (charts.bar_chart): per 2017 row its published bars, then one
    group per row of this run with a bar per hardware column. metric: "time" or "ips"."""
    out = []
    for g in groups:
        ref_bars = reference_bars(g, metric, ref_task, ref_hw)
        if not g["rows"]:
            if ref_bars:
                out.append({"label": g["name"], "sublabel": "2017 only", "bars": ref_bars})
            continue
        for k, row in enumerate(g["rows"]):
            bars = list(ref_bars) if k == 0 else []
            for j, h in enumerate(hw_cols):
                bar = run_bar(row, row.cells.get(h["key"]), h, metric, training)
                if bar is not None:
                    bar["series"] = len(ref_hw) + j
                    bars.append(bar)
            if bars:
                label, sub = _chart_labels(g, row)
                out.append({"label": label, "sublabel": sub, "bars": bars})
    for group in out:  # strings from result files, shown in the SVG: no control characters
        group["label"], group["sublabel"] = (safetext.visible(group["label"]),
                                             safetext.visible(group["sublabel"]))
        for bar in group["bars"]:
            bar["tip"] = safetext.visible(bar["tip"])
    return out


def reference_bars(g, metric, ref_task, ref_hw):
    """A group's 2017 bars (time as published, or images/s derived from it)."""
    ref, bars = g["reference"], []
    for i, h in enumerate(ref_hw):
        v = ref.get(h["key"]) if ref else None
        if v is not None:
            value = v if metric == "time" else _derived_ips(ref_task, v)
            bars.append({"series": i, "value": value,
                         "tip": "%s, 2017, %s: %s" % (g["name"], h["label"],
                                                      charts.fmt_number(value))})
    return bars


def run_bar(row, cell, h, metric, training):
    """A row's bar on hardware column h (its median, or failed), or None: no cell, or a
    partial training run's total time (not comparable)."""
    if cell is None:
        return None
    if metric == "time" and training and row.partial:
        return None  # a partial run's total time is not comparable
    stats = cell.time if metric == "time" else cell.ips
    marks = (" †synthetic" if row.synthetic else "") + \
        (" ‡" + row.partial if row.partial else "")
    if stats:
        tip = "%s on %s: median %s over %d run(s)%s%s" % (
            row.label, h["label"], charts.fmt_number(stats["median"]), stats["n"],
            ", %s–%s" % (charts.fmt_number(stats["min"]), charts.fmt_number(stats["max"]))
            if stats["n"] > 1 else "", marks)
        return {"value": stats["median"], "synthetic": row.synthetic,
                "partial": bool(row.partial), "failed": bool(cell.failed), "tip": tip}
    if cell.failed:
        return {"value": None, "failed": True, "synthetic": row.synthetic,
                "partial": bool(row.partial),
                "tip": "%s on %s failed: %s" % (row.label, h["label"],
                                                "; ".join(cell.failed_reasons))}
    return None


def _chart_labels(group, row):
    """A chart group's label (2017 row · image) and sublabel (variant, †synthetic, ‡partial)."""
    label = (group["name"] + " · " if group["name"] else "") + row.image
    sub = " ".join(x for x in (
        row.variant if row.variant != "reference" else "",
        "†synthetic" if row.synthetic else "",
        "‡partial" if row.partial else "") if x)
    return label, sub


def _mfu_chart(task, ref_task, hw_cols, groups):
    """MFU per row and hardware (of the measured fp32 matmul peak), or None when no run of the
    task recorded one. 2017 published no FLOP rates: only this run's bars."""
    series = [{"label": "this run: %s" % h["label"], "kind": "run"} for h in hw_cols]
    out = []
    for g in groups:
        for row in g["rows"]:
            bars = []
            for j, h in enumerate(hw_cols):
                cell = row.cells.get(h["key"])
                if cell is None or cell.mfu is None:
                    continue
                mfu, tip = _mfu_view(cell)
                bars.append({"series": j, "value": 100.0 * cell.mfu["median"],
                             "synthetic": row.synthetic, "partial": bool(row.partial),
                             "failed": bool(cell.failed),
                             "tip": safetext.visible("%s on %s: MFU %s; %s" % (
                                 row.label, h["label"], mfu, tip))})
            if bars:
                label, sub = _chart_labels(g, row)
                out.append({"label": safetext.visible(label), "sublabel": safetext.visible(sub),
                            "bars": bars})
    if not out:
        return None
    return charts.bar_chart(
        "chart-%s-mfu" % task, "%s — MFU, higher is better" % ref_task["title"],
        "% of the measured fp32 matmul peak (model FLOPs: tasks/measure/flops.py)", series, out,
        log=False)


# ---------------------------------------------------------------- rendering

def _md_cell(value):
    """A string from the results as inert Markdown (safetext.markdown): no tag, link, emphasis
    or table cell can be injected, control characters shown as escapes."""
    return safetext.markdown(value)


def _shown(value):
    """Every string a template prints: control characters as visible escapes (markup the
    templates and charts made themselves passes untouched)."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return safetext.visible(value)
    return value


def _environment(autoescape):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, finalize=_shown)
    env.filters["mdcell"] = _md_cell
    env.filters["md"] = _md_cell
    return env


def render(view):
    html = _environment(True).get_template("report.html.j2").render(**view)
    md = _environment(False).get_template("report.md.j2").render(**view)
    return html, md


def render_report(results_dir=None, out_dir=None):
    """Render results_dir into report.html and report.md (in out_dir, default results_dir).
    Returns {"html": path, "md": path}."""
    results_dir = os.path.abspath(results_dir or paths.results_dir())
    out_dir = os.path.abspath(out_dir or results_dir)
    os.makedirs(out_dir, exist_ok=True)
    view = build_view(results_dir)
    view["results_href"] = os.path.relpath(results_dir, out_dir)
    html, md = render(view)
    written = {}
    for kind, name, text in (("html", "report.html", html), ("md", "report.md", md)):
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        written[kind] = path
    return written

