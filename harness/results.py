"""Result files on the host: the schema (tasks/common/result.schema.json, the one copy),
validation, the failed result the host writes when a container could not, provenance, and the
table of what is under results/.

Layout: results/<run_id>/<image>/<task>[-<variant>]-r<repeat>/{result.json,container.log,
events.jsonl}; build logs in results/logs/."""
import datetime
import json
import os

from . import paths

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


def failed_result(task, adapter, variant, device, source, reason, exit_code, started=None,
                  params=None):
    """A schema-conforming failed result, for when the container wrote none (or a broken one)."""
    return {
        "schema_version": schema()["properties"]["schema_version"]["const"],
        "task": task, "framework": adapter, "adapter": adapter, "variant": variant,
        "status": "failed", "reason": reason, "exit_code": exit_code, "device": device,
        "params": params or {}, "data": {"source": source},
        "model": {}, "env": {"python": "", "numpy": ""}, "timings": {}, "metrics": {},
        "started": started or now_iso(), "finished": now_iso(),
    }


def write(result, path):
    """Atomic write: a reader never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read(path):
    with open(path) as f:
        return json.load(f)


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


def summary_row(result):
    t, m = result.get("timings") or {}, result.get("metrics") or {}
    prov = result.get("provenance") or {}
    if result.get("task") == "inference":
        speed = _num(t.get("seconds_per_1000_images"), "%.2f s/1000 img")
    else:
        speed = _num(t.get("train_seconds"), "%.1f s train")
    return (prov.get("run_id") or "-", prov.get("image") or "-", result.get("task", "?"),
            result.get("variant", "?"), str(prov.get("repeat") or "-"),
            result.get("device") or "-", (result.get("data") or {}).get("source", "?"),
            result.get("status", "?"), speed, _num(t.get("images_per_second"), "%.0f"),
            _num(m.get("test_accuracy"), "%.3f"),
            (result.get("reason") or "")[:60] if result.get("status") != "ok" else "")


HEADER = ("RUN", "IMAGE", "TASK", "VARIANT", "R", "DEVICE", "DATA", "STATUS", "TIME",
          "IMG/S", "ACC", "REASON")


def table(results_root=None):
    """Lines of a plain-text table of every result under results/."""
    rows = [HEADER]
    for path in result_paths(results_root):
        try:
            rows.append(summary_row(read(path)))
        except (OSError, ValueError) as e:
            rows.append(("?", os.path.relpath(path), "", "", "", "", "", "unreadable", "", "",
                         "", str(e)[:60]))
    if len(rows) == 1:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
