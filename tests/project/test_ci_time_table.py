"""The CI's time budget tools: .ci/timings.py (the table .ci/run prints at its end), the
engine-test lock of tests/conftest.py (engine tests side by side under pytest-xdist, `alone`
ones by themselves) and .ci/run's phases. No engine needed."""
import fcntl
import os
import subprocess
import sys

import helpers
from helpers import HANG_S, ROOT

TIMINGS = os.path.join(ROOT, ".ci", "timings.py")

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_one" time="11.0" />
<testcase classname="tests.test_a" name="test_two[x]" time="4.0" />
<testcase classname="tests.test_b.TestThing" name="test_three" time="100.25" />
</testsuite></testsuites>
"""


def table(folder):
    out = subprocess.run([sys.executable, TIMINGS, str(folder)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    return out.stdout


def row(text, name):
    found = [line.split() for line in text.splitlines() if line.split()[:1] == [name]]
    assert len(found) == 1, text
    return found[0]


def test_the_table_has_each_phase_each_build_and_each_test_file(tmp_path):
    (tmp_path / "phases.tsv").write_text("system packages\t20\nimages (two at a time)\t300\n"
                                         "tests (make test)\t1200\n")
    (tmp_path / "builds.log").write_text(
        "building keras-3.15 (context 1 MB) -> dlbench/keras-3.15:latest; log: x.log\n"
        "  [keras-3.15] Step 3/14 : RUN pip install\n"
        "built keras-3.15 in 151 s (sha256:f4a175fc5476)\n"
        "built flax-0.12 in 44 s (sha256:9870cf406b58)\n"
        "mxnet-1.9 is up to date (sha256:b272b0479f57)\n")
    (tmp_path / "junit.xml").write_text(JUNIT)
    text = table(tmp_path)
    assert row(text, "images")[-1] == "300"
    totals = [line.split()[-1] for line in text.splitlines() if line.startswith("total")]
    assert totals == ["1520", "115"]  # the phases; the test files (11.0 + 4.0 + 100.25)
    assert row(text, "keras-3.15") == ["keras-3.15", "151"]
    assert row(text, "flax-0.12") == ["flax-0.12", "44"]
    assert row(text, "mxnet-1.9") == ["mxnet-1.9", "reused"]
    # per test file: the module of a class's test too, the slowest first
    files = [line.split()[0] for line in text.splitlines() if line.startswith("tests/")]
    assert files == ["tests/test_b.py", "tests/test_a.py"]
    assert row(text, "tests/test_a.py")[1:] == ["15", "2", "tests"]


def test_a_run_that_stopped_early_still_gets_its_table(tmp_path):
    (tmp_path / "phases.tsv").write_text("system packages\t20\n")
    (tmp_path / "junit.xml").write_text("<testsuites><testsuite")  # cut off
    text = table(tmp_path)
    assert "system packages" in text
    assert "no junit report" in text


def test_ci_run_times_every_phase_and_prints_the_table_on_exit():
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        script = f.read()
    assert "trap finish EXIT" in script and "python3 .ci/timings.py" in script
    assert "--junitxml=$TIMINGS/junit.xml" in script
    assert 'build --all --jobs' in script and 'builds.log' in script
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    tests_block = readme.split("## Tests", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    # CI installs what the README's Tests section installs and runs its test command
    assert tests_block.splitlines() == ["pip install -e '.[test]'", "make test"]
    assert "pip install -q -e '.[test]'" in script or "pip install -e '.[test]'" in script
    assert "make test" in script


# ---------------------------------------------------------------- the engine-test lock

def can_take(path, mode):
    """Whether flock(mode) on path would be granted now (non-blocking probe)."""
    with open(path, "a") as f:
        try:
            fcntl.flock(f, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_engine_tests_run_side_by_side_and_keep_an_alone_one_out(tmp_path):
    turn, gate = str(tmp_path / "engine.turn"), str(tmp_path / "engine.gate")
    with helpers.engine_lock(str(tmp_path), alone=False):
        with helpers.engine_lock(str(tmp_path), alone=False):  # a second engine test beside it
            assert not can_take(turn, fcntl.LOCK_EX)  # an alone test waits
        assert not can_take(turn, fcntl.LOCK_EX)
        assert can_take(gate, fcntl.LOCK_EX)  # the gate is free: the alone test queues there
    assert can_take(turn, fcntl.LOCK_EX)  # all done: the alone test's turn


def test_an_alone_test_keeps_every_engine_test_out_even_at_the_gate(tmp_path):
    turn, gate = str(tmp_path / "engine.turn"), str(tmp_path / "engine.gate")
    with helpers.engine_lock(str(tmp_path), alone=True):
        assert not can_take(turn, fcntl.LOCK_SH)
        assert not can_take(gate, fcntl.LOCK_SH)  # later engine tests wait, not overtake it
    assert can_take(turn, fcntl.LOCK_SH) and can_take(gate, fcntl.LOCK_SH)


def test_the_alone_marker_is_registered():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    assert '"alone:' in text and "pytest-xdist" in text
