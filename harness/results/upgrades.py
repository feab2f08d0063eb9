"""Step-by-step upgrades of result documents written by older dlbench versions.

Every result carries `schema_version`. The host reads results written by any earlier version:
before it validates a result read from disk it applies, in order, one step per version, from the
file's version up to CURRENT (`upgrade`). Files on disk are never rewritten.

Each step is a pure function, a dict of version N in, a new dict of version N + 1 out (the input
is not modified), and must not fail on a malformed document: what it cannot upgrade it leaves
alone, and schema validation afterwards says what is wrong.

Bumping the schema: change tasks/runtime/result.schema.json (`schema_version` const) and
tasks/runtime/output.py (SCHEMA_VERSION), append a `vN_to_vN1` function to STEPS, and store a
result of the old version under tests/fixtures/ for tests/unit/results/test_upgrades.py."""
import copy
import json

# v1 adapter name -> the framework's own name (v1's `framework` sometimes held the adapter name:
# the host's failed results wrote framework=adapter).
V1_FRAMEWORK_OF_ADAPTER = {"pytorch": "pytorch", "tensorflow2": "tensorflow", "keras3": "keras",
                           "flax": "flax"}
V1_RENAMED_ADAPTERS = {"tensorflow2": "tensorflow"}


def v1_to_v2(doc):
    """Schema 1 -> 2: `framework` is the framework's own name (tensorflow, keras, ...), the
    adapter `tensorflow2` is called `tensorflow`, and the new top-level `image` is the benchmark
    image's name (from provenance.image) or null (a run without Docker)."""
    new = copy.deepcopy(doc)
    adapter = doc.get("adapter")
    if isinstance(adapter, str):
        if adapter in V1_FRAMEWORK_OF_ADAPTER:
            new["framework"] = V1_FRAMEWORK_OF_ADAPTER[adapter]
        new["adapter"] = V1_RENAMED_ADAPTERS.get(adapter, adapter)
    prov = doc.get("provenance")
    image = prov.get("image") if isinstance(prov, dict) else None
    new["image"] = image if isinstance(image, str) else None
    new["schema_version"] = 2
    return new


# STEPS[i] turns a version i + 1 document into version i + 2.
STEPS = (v1_to_v2,)
CURRENT = len(STEPS) + 1  # the schema version this dlbench writes and reads up to


class UpgradeError(ValueError):
    """A document no step applies to: no schema_version, an unknown one, or a newer one."""


def version_of(doc):
    """The document's schema version (an int >= 1), or raise UpgradeError saying why not."""
    if not isinstance(doc, dict):
        raise UpgradeError("not a JSON object (a %s)" % _json_type(doc))
    if "schema_version" not in doc:
        raise UpgradeError("no schema_version: not a dlbench result")
    v = doc["schema_version"]
    if type(v) is not int or v < 1:  # bool is an int subclass: true is not version 1
        raise UpgradeError("unknown schema_version %s" % _short(v))
    if v > CURRENT:
        raise UpgradeError("written by a newer dlbench (schema %d); this one reads up to %d"
                           % (v, CURRENT))
    return v


def upgrade(doc):
    """`doc` brought to schema CURRENT by the steps from its own version: a new dict when a step
    ran (`doc` is never modified), `doc` itself when it is already CURRENT. Raises UpgradeError
    when its version is missing, unknown or newer."""
    v = version_of(doc)
    for step in STEPS[v - 1:]:
        doc = step(doc)
    return doc


def _json_type(value):
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}.get(
        type(value), type(value).__name__)


def _short(value):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
