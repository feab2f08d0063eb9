"""Progress events (one JSON object per line on stdout) and the result file writer."""
from __future__ import absolute_import, division, print_function
import datetime
import json
import os
import sys

# The version of runtime/result.schema.json this writes. On a bump, the host's
# harness/upgrades.py gets the step from the previous version (old results stay readable).
SCHEMA_VERSION = 2


def now_iso():
    return datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z"


def emit(event, **fields):
    """One progress event as one JSON line on stdout, flushed at once for the host."""
    fields["event"] = event
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def new_result(task, framework, adapter, variant, device, params, source):
    """The result as it stands before the run: failed until the run says otherwise, with the
    data source the command line asked for (a run that fails early keeps the right label).
    framework is the framework's own name (the adapter's FRAMEWORK), adapter the module name
    (tasks/<task>/<adapter>.py); image stays None here: the host sets it when it collects."""
    return {
        "schema_version": SCHEMA_VERSION, "task": task, "framework": framework,
        "adapter": adapter, "variant": variant, "image": None, "device": device,
        "status": "failed",
        "reason": "did not finish", "exit_code": None, "params": params,
        "data": {"source": source}, "model": {}, "env": {"python": "", "numpy": ""},
        "timings": {}, "metrics": {}, "started": now_iso(), "finished": now_iso(),
    }


def _plain(value):
    """numpy scalars and arrays to plain JSON types."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError("not JSON serialisable: %r" % (value,))


def write_result(result, path):
    """Write atomically (temp file + rename) so a reader never sees half a result."""
    result["finished"] = now_iso()
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True, default=_plain)
        f.write("\n")
    os.rename(tmp, path)
