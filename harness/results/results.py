"""Result files on the host: the schema (tasks/runtime/result.schema.json, the one copy),
validation, the failed result the host writes when a container could not, provenance, and the
table of what is under results/.

Every result read from disk goes through read_upgraded (read_json_file's guarded read, then
harness/results/upgrades.py brings an older schema_version up to the current one) or
read_collected (that, then schema validation and the host's provenance), so results written by
an older dlbench stay readable after a schema bump. Files are never rewritten.

Layout: results/<run_id>/<image>/<task>[-<variant>]-r<repeat>/{result.json,container.log,
events.jsonl}; build logs in results/logs/."""
import datetime
import json
import math
import os
import stat
import sys

from ..core import paths, taskfiles
from ..core import safetext
from . import upgrades

SCHEMA_VERSION = upgrades.CURRENT  # what the host writes and reads up to (== the schema's const)

_schemas = {}


def schema(path=None):
    path = path or paths.schema_path()
    if path not in _schemas:
        with open(path) as f:
            _schemas[path] = json.load(f)
    return _schemas[path]


def validate(result, schema_doc=None):
    """Messages of every way `result` breaks the schema (empty when it conforms)."""
    import jsonschema
    cls = jsonschema.validators.validator_for(schema_doc or schema())
    validator = cls(schema_doc or schema(), format_checker=cls.FORMAT_CHECKER)
    out = []
    for err in sorted(validator.iter_errors(result), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        out.append("%s: %s" % (where, err.message[:200]))
    return out


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def framework_of(adapter, tasks_root=None):
    """The framework's own name as tasks/frameworks/<adapter>.py declares it (NAME); the adapter
    name when there is no such module (never raises: it serves failure paths)."""
    try:
        fw = taskfiles.find(adapter, tasks_root)
    except Exception:  # on a failure path: never cost the failed result itself
        fw = None
    return fw.name if fw is not None else adapter


def failed_result(task, adapter, variant, device, source, reason, exit_code, started=None,
                  params=None, framework=None, image=None):
    """A schema-conforming failed result, for when the container wrote none (or a broken one).

    adapter: the adapter module (tasks/<task>/<adapter>.py); framework: the framework's own name
    (None: the NAME its framework module declares, see framework_of); image: the benchmark
    image's name (None: add_provenance sets it from the provenance when the result is
    collected)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "task": task, "framework": framework or framework_of(adapter), "adapter": adapter,
        "variant": variant, "image": image,
        "status": "failed", "reason": reason, "exit_code": exit_code, "device": device,
        "params": params or {}, "data": {"source": source},
        "model": {}, "env": {"python": "", "numpy": ""}, "timings": {}, "metrics": {},
        "started": started or now_iso(), "finished": now_iso(),
    }


def add_provenance(result, prov):
    """Attach the host's provenance to a collected result, and the top-level `image` from it
    (the container writes image null: it does not know its image's name)."""
    result["provenance"] = prov
    if result.get("image") is None and isinstance(prov.get("image"), str):
        result["image"] = prov["image"]
    return result


def write(result, path):
    """Atomic write: a reader never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


# no result is near this size (a DenseNet result with every per-label AUC: a few kB)
MAX_RESULT_BYTES = 16 << 20


class BadFile(ValueError):
    """A file no result can be: not a regular file, too large, nested too deep."""


def read_json_file(path):
    """The JSON document in path, read with care for files a hostile or broken run could leave:
    not a regular file (a FIFO named result.json would block the reader, a device, a folder),
    larger than MAX_RESULT_BYTES, not UTF-8, not JSON, or nested deeper than the parser can
    go: ValueError with the reason (OSError when it cannot be opened)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise BadFile("not a regular file")
    if st.st_size > MAX_RESULT_BYTES:
        raise BadFile("%d bytes: larger than any result (%d MiB at most)"
                      % (st.st_size, MAX_RESULT_BYTES >> 20))
    # non-blocking: had it become a FIFO since the stat, the open would wait for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise BadFile("not a regular file")
        raw = f.read(MAX_RESULT_BYTES + 1)
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise BadFile("nested deeper than a JSON reader goes")


def read_upgraded(path):
    """The result in `path` at the current schema version (older versions upgraded, see
    harness/results/upgrades.py). Raises OSError, or ValueError when the file is no regular file
    or too large (read_json_file), not JSON, holds a non-finite number (NonFinite), is not an
    object, or has no, an unknown or a newer schema_version (upgrades.UpgradeError)."""
    doc = read_json_file(path)
    refuse_non_finite(doc)
    return upgrades.upgrade(doc)


class NonFinite(ValueError):
    """A result that holds NaN or Infinity: Python's json reads them (NaN, Infinity, 1e999), but
    they are no JSON numbers and no figure a run can have measured."""


def non_finite(doc, where=""):
    """The places ("timings/images_per_second", "metrics/test_accuracy") where doc holds NaN,
    Infinity or -Infinity, in document order."""
    found = []
    if isinstance(doc, float) and not math.isfinite(doc):
        found.append((where or "(top)", doc))
    elif isinstance(doc, int) and not isinstance(doc, bool) and abs(doc) > sys.float_info.max:
        found.append((where or "(top)", doc))  # an integer no float can hold: as good as infinite
    elif isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(non_finite(value, "%s/%s" % (where, key) if where else str(key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found.extend(non_finite(value, "%s/%d" % (where, i) if where else str(i)))
    return found


def refuse_non_finite(doc):
    """Raise NonFinite naming where doc holds NaN or Infinity."""
    found = non_finite(doc)
    if found:
        shown = ", ".join("%s is %s" % (w, _json_constant(v)) for w, v in found[:3])
        raise NonFinite("holds a non-finite number (%s%s): JSON has no NaN or Infinity and a "
                        "result must not hold one" % (
                            shown, " and %d more" % (len(found) - 3) if len(found) > 3 else ""))


def _json_constant(value):
    if isinstance(value, int):
        return "an integer of %d digits, beyond any float" % len(str(abs(value)))
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


class Unreadable(ValueError):
    """A result file that cannot be used: why (str(e)), its task when it names a known one, and
    its status in `dlbench results` ("unreadable", or "no-provenance": a well-formed result no
    dlbench collected)."""

    def __init__(self, message, task=None, status="unreadable"):
        ValueError.__init__(self, message)
        self.task = task
        self.status = status


NO_PROVENANCE = "no-provenance"


def host_provenance_problem(result):
    """None when `result` carries the provenance the host adds when it collects a run (an object
    with the run id, see collect.record and orphans), else why it is not a benchmark row: the
    container wrote it and no dlbench collected it (its dlbench was killed before it could, and
    the container ran on), or it was made by `python tasks/run.py` without Docker."""
    prov = result.get("provenance") if isinstance(result, dict) else None
    if isinstance(prov, dict) and isinstance(prov.get("run_id"), str) and prov["run_id"]:
        return None
    return ("no host provenance: written by the run itself and never collected by dlbench (its "
            "dlbench was killed before it could, or it ran without Docker); not a measurement")


def run_folder(task, variant, repeat):
    """The leaf folder of a run's results, <task>[-<variant>]-r<repeat> (the reference variant
    unnamed): results/<run_id>/<image>/<this>/result.json, the one layout the host writes."""
    leaf = task if variant == "reference" else "%s-%s" % (task, variant)
    return "%s-r%d" % (leaf, repeat)


def placement_problem(doc, path):
    """None when a collected result lies where the host wrote it, as its own provenance says
    (<run_id>/<image>/<run_folder>/result.json, its log beside it), else why it is not counted:
    a result copied into another run's folder, or provenance made up by hand, would otherwise
    pass as a measurement."""
    prov = doc["provenance"]
    repeat = prov.get("repeat")
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1 or \
            not isinstance(doc.get("image"), str) or prov.get("image") != doc.get("image"):
        return ("the host's provenance is incomplete (repeat %r, image %r): not written by "
                "dlbench; not a measurement" % (repeat, prov.get("image")))
    want = [prov["run_id"], doc["image"], run_folder(doc["task"], doc["variant"], repeat)]
    have = os.path.abspath(path).split(os.sep)[-4:-1]
    if have != want:
        return ("its provenance places it in %s/, but it lies in %s/: moved or copied from "
                "another run, or made by hand; not counted" % ("/".join(want), "/".join(have)))
    log = prov.get("log")
    if log is not None and log != "/".join(want + ["container.log"]):
        return ("its provenance names the log %s, not the one beside it (%s): not written by "
                "dlbench for this folder; not counted" % (log, "/".join(want + ["container.log"])))
    return None


def _task_of(doc):
    tasks = schema()["properties"]["task"]["enum"]
    task = doc.get("task") if isinstance(doc, dict) else None
    return task if isinstance(task, str) and task in tasks else None


def read_collected(path):
    """The result in `path`, upgraded to the current schema version, schema-valid and collected
    by the host (host_provenance_problem), or raise Unreadable with the reason (the file cannot
    be read, is not JSON, has no / an unknown / a newer schema_version, does not follow the
    schema, or has no host provenance: status "no-provenance"). The one check `dlbench results`
    and `dlbench report` both go through."""
    try:
        raw = read_json_file(path)
    except OSError as e:
        raise Unreadable("cannot be read: %s" % str(e)[:200])
    except BadFile as e:
        raise Unreadable(str(e))
    except ValueError as e:  # bad JSON or bad UTF-8
        raise Unreadable("not JSON: %s" % str(e)[:200])
    task = _task_of(raw)
    try:
        refuse_non_finite(raw)
    except NonFinite as e:
        raise Unreadable(str(e), task)
    try:
        doc = upgrades.upgrade(raw)
    except upgrades.UpgradeError as e:
        raise Unreadable(str(e), task)
    problems = validate(doc)
    if problems:
        old = raw["schema_version"]
        raise Unreadable(
            "does not follow the result schema%s: " % (
                " (after upgrading from schema %d)" % old if old != SCHEMA_VERSION else "")
            + "; ".join(problems[:3])
            + (" (and %d more)" % (len(problems) - 3) if len(problems) > 3 else ""), task)
    missing = host_provenance_problem(doc)
    if missing:
        raise Unreadable(missing, task, status=NO_PROVENANCE)
    misplaced = placement_problem(doc, path)
    if misplaced:
        raise Unreadable(misplaced, task)
    return doc


def read_all_collected(results_root=None):
    """(good, unreadable) of every result under results_root: good is [(path, result)] of
    readable, upgraded, schema-valid results the host collected; unreadable is [{"path",
    "error", "task", "status"}] (see `read_collected`)."""
    good, bad = [], []
    first = {}  # one run's identity -> the path that holds it
    for path in result_paths(results_root):
        try:
            doc = read_collected(path)
        except Unreadable as e:
            bad.append({"path": path, "error": str(e), "task": e.task, "status": e.status})
            continue
        key = run_identity(doc)
        if key in first:  # a copy is not a second measurement: counted once
            bad.append({"path": path, "task": doc.get("task"), "status": "unreadable",
                        "error": "a second result of run %s repeat %s (%s %s %s): the first, "
                                 "%s, is counted, not this copy"
                                 % (key[0], key[1], key[2], key[3], key[4],
                                    os.path.relpath(first[key], results_root or ".")),
                        })
            continue
        first[key] = path
        good.append((path, doc))
    return good, bad


def run_identity(doc):
    """What names one run: its run id, repeat, image, task, variant and device (two result files
    with the same identity are one run written twice, never two measurements)."""
    prov = doc.get("provenance") or {}
    return (prov.get("run_id"), prov.get("repeat"), doc.get("image"), doc.get("task"),
            doc.get("variant"), doc.get("device"))


def result_paths(results_root=None):
    root = results_root or paths.results_dir()
    found = []
    if not os.path.isdir(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "logs")
        if "result.json" in filenames:
            found.append(os.path.join(dirpath, "result.json"))
    return sorted(found)


def _num(value, fmt):
    return fmt % value if isinstance(value, (int, float)) else "-"


def _rate(value):
    """images/s for the table: whole numbers from 100 up, 3 significant digits below (a
    DenseNet run on a CPU does 1.46 images/s, not "1")."""
    if not isinstance(value, (int, float)):
        return "-"
    return "%.0f" % value if value >= 100 else "%.3g" % value


CONTENDED = "!"  # the STATUS marker of an ok run a check flagged (see check_notes)


def contention_note(result):
    """"CPU contention: ..." when the host saw other work use the CPU during this run beyond
    the threshold (provenance.contention, harness/runs/contention.py), else None."""
    seen = (result.get("provenance") or {}).get("contention")
    if not isinstance(seen, dict) or not seen.get("flagged"):
        return None
    other, cpus = seen.get("other_cpus"), seen.get("cpus")
    if isinstance(other, (int, float)) and isinstance(cpus, (int, float)):
        return "CPU contention: other work used %.1f of %g CPUs" % (other, cpus)
    return "CPU contention"


def check_notes(result):
    """What the measurement's own checks flagged: the runtime's clock check (checks.clock:
    "clock stopped before the device finished"), its peak check (checks.peak: the run above
    both probes of the peak) and the host's CPU contention record."""
    notes = []
    clock = (result.get("checks") or {}).get("clock")
    if isinstance(clock, dict) and clock.get("flagged"):
        share = clock.get("share")
        notes.append("clock stopped before the device finished (%s of the timed span came after "
                     "it)" % ("%.0f %%" % (100 * share) if isinstance(share, (int, float))
                              else "part"))
    peak = (result.get("checks") or {}).get("peak")
    if isinstance(peak, dict) and peak.get("flagged"):
        notes.append("MFU above the measured peak, probed twice: no measure")
    contention = contention_note(result)
    if contention:
        notes.append(contention)
    return notes


def summary_row(result):
    t, m = result.get("timings") or {}, result.get("metrics") or {}
    prov = result.get("provenance") or {}
    image = result.get("image") or prov.get("image")
    if result.get("task") == "inference":
        speed = _num(t.get("seconds_per_1000_images"), "%.2f s/1000 img")
    else:
        speed = _num(t.get("train_seconds"), "%.1f s train")
    status, note = result.get("status", "?"), ""
    if status != "ok":
        note = (result.get("reason") or "")[:60]
    elif check_notes(result):
        status, note = status + CONTENDED, "; ".join(check_notes(result))
    return (prov.get("run_id") or "-", image or "-", result.get("task", "?"),
            result.get("variant", "?"), str(prov.get("repeat") or "-"),
            result.get("device") or "-", data_label(result),
            status, speed, _rate(t.get("images_per_second")),
            # densenet: the mean ROC AUC (2017's accuracy figure for it), "AUC" said
            _num(m.get("test_accuracy"), "%.3f") if result.get("task") != "densenet"
            else _num(m.get("test_auc"), "AUC %.3f"), _mfu_text(result), note)


def data_label(result):
    """The DATA column: real or synthetic; a densenet run on real data says which images its
    loaders read: "real/264" (the copies `dlbench data prepare chestxray14` made, as 2017) or
    "real/orig" (the originals resized as read: not comparable with 2017's minutes; results
    from before data.images was recorded read those too)."""
    data = result.get("data") or {}
    source = data.get("source", "?")
    if result.get("task") != "densenet" or source != "real":
        return source
    images = data.get("images") if isinstance(data.get("images"), dict) else {}
    if images.get("read") == "prepared":
        return "real/%s" % images.get("size", "prepared")
    return "real/orig"


def _mfu_text(result):
    """MFU of the measured peak, as a percentage ("" when the result has none)."""
    share = (result.get("mfu") or {}).get("of_measured_peak") if isinstance(
        result.get("mfu"), dict) else None
    return _num(100.0 * share if isinstance(share, (int, float)) else None, "%.0f%%")


HEADER = ("RUN", "IMAGE", "TASK", "VARIANT", "R", "DEVICE", "DATA", "STATUS", "TIME",
          "IMG/S", "ACC", "MFU", "REASON")


def _unreadable_row(path, why, status="unreadable"):
    rel = os.path.relpath(path)  # as the user would type it: relative under the current folder
    return ("?", path if rel.startswith("..") else rel, "", "", "", "", "", status, "",
            "", "", "", why if len(why) <= 120 else why[:117] + "...")


def table(results_root=None):
    """Lines of a plain-text table of every result under results/; files that cannot be used
    (see `read_collected`) are listed as unreadable (or no-provenance) with the reason, never dropped. An
    ok run that shared the CPU is marked "ok!" with a note, and a legend line ends the table."""
    rows = [HEADER]
    good, bad = read_all_collected(results_root)
    found = [(path, doc, None, None) for path, doc in good] + [
        (u["path"], None, u["error"], u.get("status")) for u in bad]
    for path, doc, why, status in sorted(found, key=lambda f: f[0]):
        if why is not None:
            rows.append(_unreadable_row(path, why, status or "unreadable"))
            continue
        try:
            rows.append(summary_row(doc))
        except Exception as e:  # a schema-valid file the table cannot show: still list it
            rows.append(_unreadable_row(path, "cannot be shown: %s: %s"
                                        % (type(e).__name__, e)))
    if len(rows) == 1:
        return []
    rows = [tuple(safetext.visible(c) for c in r) for r in rows]  # no ESC/CR from a file
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if any(r[6] == "real/orig" for r in rows[1:]):
        lines.append("real/orig: densenet read the ChestX-ray14 originals, resized as read "
                     "(2017 read 264x264 copies made once): not comparable with 2017's minutes; "
                     "`dlbench data prepare chestxray14` makes the copies")
    if any(r[7] == "ok" + CONTENDED for r in rows[1:]):
        lines.append("%s: a check of the measurement flagged the run (REASON says which: CPU "
                     "contention, provenance.contention; the clock stopped before the device "
                     "finished, checks.clock; or the run beat both probes of the peak, "
                     "checks.peak): its timing may be spoiled" % ("ok" + CONTENDED))
    return lines
