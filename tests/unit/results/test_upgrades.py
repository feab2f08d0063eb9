"""Results written by an older dlbench stay readable: harness/results/upgrades.py brings a result of any
earlier schema_version up to the current one, one pure step per version, tested on result files
stored in tests/fixtures/ as older versions wrote them."""
import copy
import glob
import json
import os
import re
import sys

import pytest

from harness.results import results, upgrades

from helpers import FIXTURES, ROOT


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


V1_OK = "result-v1-tensorflow2-cnn-ok.json"       # written by the container, host provenance
V1_FAILED = "result-v1-host-failed.json"          # written by the host (framework = adapter)


def test_versions_agree_schema_writer_and_upgrades():
    sys.path.insert(0, os.path.join(ROOT, "tasks"))
    try:
        from runtime import output
    finally:
        sys.path.remove(os.path.join(ROOT, "tasks"))
    const = results.schema()["properties"]["schema_version"]["const"]
    assert const == output.SCHEMA_VERSION == upgrades.CURRENT == results.SCHEMA_VERSION == 2
    assert len(upgrades.STEPS) == upgrades.CURRENT - 1


def test_a_stored_result_of_every_older_version():
    """A schema bump stores a result of the version it leaves (see harness/results/upgrades.py)."""
    for v in range(1, upgrades.CURRENT):
        stored = glob.glob(os.path.join(FIXTURES, "result-v%d-*.json" % v))
        assert stored, "no tests/fixtures/result-v%d-*.json" % v
        for path in stored:
            doc = fixture(os.path.basename(path))
            assert doc["schema_version"] == v, path
            assert results.validate(upgrades.upgrade(doc)) == [], path


def test_v1_container_result_upgrades_to_a_valid_v2():
    old = fixture(V1_OK)
    new = upgrades.upgrade(old)
    assert results.validate(new) == []
    assert new["schema_version"] == 2
    assert new["framework"] == "tensorflow" and new["adapter"] == "tensorflow"
    assert new["image"] == "tensorflow-2.21"
    # everything else is carried over as it was
    changed = {"schema_version", "framework", "adapter", "image"}
    assert {k: v for k, v in new.items() if k not in changed} == \
        {k: v for k, v in old.items() if k not in changed}


def test_v1_host_failed_result_gets_the_framework_name():
    old = fixture(V1_FAILED)
    assert old["framework"] == "tensorflow2"  # what v1's failed_result wrote
    new = upgrades.upgrade(old)
    assert results.validate(new) == []
    assert (new["framework"], new["adapter"], new["image"]) == (
        "tensorflow", "tensorflow", "tensorflow-2.21")
    assert new["status"] == "failed" and new["reason"].startswith("timed out after 3600 s")


def test_steps_are_pure():
    old = fixture(V1_OK)
    before = copy.deepcopy(old)
    new = upgrades.v1_to_v2(old)
    assert old == before and new is not old
    new["provenance"]["pip_freeze"].append("changed==1")
    new["env"]["threads"]["intra_op"] = 99
    assert old == before  # nothing shared with the input
    assert upgrades.v1_to_v2(before) == upgrades.v1_to_v2(copy.deepcopy(before))


@pytest.mark.parametrize("adapter, framework, expect_framework, expect_adapter", [
    ("pytorch", "pytorch", "pytorch", "pytorch"),
    ("tensorflow2", "tensorflow", "tensorflow", "tensorflow"),   # written by the container
    ("tensorflow2", "tensorflow2", "tensorflow", "tensorflow"),  # written by the host
    ("keras3", "keras", "keras", "keras3"),
    ("keras3", "keras3", "keras", "keras3"),
    ("flax", "flax", "flax", "flax"),
    ("mxnet", "mxnet-gluon", "mxnet-gluon", "mxnet"),             # unknown: kept
])
def test_v1_framework_table(adapter, framework, expect_framework, expect_adapter):
    old = dict(fixture(V1_FAILED), adapter=adapter, framework=framework)
    new = upgrades.upgrade(old)
    assert (new["framework"], new["adapter"]) == (expect_framework, expect_adapter)


def test_v1_image_from_provenance_else_null():
    old = fixture(V1_OK)
    del old["provenance"]  # run without Docker: no provenance
    assert upgrades.upgrade(old)["image"] is None
    old["provenance"] = {"run_id": "r"}
    assert upgrades.upgrade(old)["image"] is None
    assert results.validate(upgrades.upgrade(old)) == []


def test_v1_step_does_not_fail_on_malformed_documents():
    """A step leaves what it cannot upgrade; validation afterwards says what is wrong."""
    for doc in ({"schema_version": 1}, {"schema_version": 1, "adapter": ["x"], "provenance": []},
                {"schema_version": 1, "adapter": None, "provenance": {"image": 5}}):
        new = upgrades.upgrade(doc)
        assert new["schema_version"] == 2 and new["image"] is None
        assert results.validate(new)


def test_current_results_pass_through_unchanged():
    doc = upgrades.upgrade(fixture(V1_OK))
    assert upgrades.upgrade(doc) == doc


@pytest.mark.parametrize("doc, message", [
    (dict(fixture(V1_OK), schema_version=3),
     "written by a newer dlbench (schema 3); this one reads up to 2"),
    ({"task": "cnn"}, "no schema_version: not a dlbench result"),
    ({"schema_version": "1"}, 'unknown schema_version "1"'),
    ({"schema_version": True}, "unknown schema_version true"),
    ({"schema_version": 0}, "unknown schema_version 0"),
    ({"schema_version": 1.5}, "unknown schema_version 1.5"),
    ([], "not a JSON object (a list)"),
    (None, "not a JSON object (a null)"),
    ("result", "not a JSON object (a string)"),
])
def test_versions_it_cannot_read_say_why(doc, message):
    with pytest.raises(upgrades.UpgradeError) as e:
        upgrades.upgrade(doc)
    assert str(e.value) == message


def test_upgrade_steps_are_named_by_version():
    for i, step in enumerate(upgrades.STEPS, 1):
        assert re.match(r"^v%d_to_v%d$" % (i, i + 1), step.__name__)
