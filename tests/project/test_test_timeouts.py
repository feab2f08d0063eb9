"""The suite's own rule on waits (tests/conftest.py): a test that waits for real work (a
subprocess, a container, a thread, a cluster job) waits up to HANG_S, the one limit set by
DLBENCH_TEST_TIMEOUT, never a fixed number of seconds that a slower or loaded machine could
exceed."""
import os
import re

import pytest

import helpers


# a number of seconds given to a wait: timeout=600, .join(10), .wait(10), deadline_s=300,
# time.time() + 30, time.time() - t0 < 60
FIXED_WAIT = re.compile(r"timeout=\d|\.(?:join|wait)\(\d|deadline_s=\d|time\.time\(\) \+ \d"
                        r"|time\.time\(\) - \w+ < \d")

# where the number is the subject of the test, not a wait: the harness's own --timeout on fake
# containers (test_collect.py) and the error text a fake engine raises (test_containers.py)
ALLOWED = {
    ("test_collect.py", "execute(tmp_path, monkeypatch, c, writes=OK, timeout=1)"),
    ("test_collect.py", "make_run(tmp_path, timeout=20)"),
    ("test_containers.py", 'ReadTimeout("Read timed out. (read timeout=10)")'),
    ("test_engine_oneshot.py", '"test-timeout", timeout=2)'),  # the timeout is the subject
}


def fixed_waits():
    found = []
    for folder, _, files in sorted(os.walk(helpers.TESTS)):
        for name in sorted(files):
            if name.endswith(".py") and name != os.path.basename(__file__):  # (its examples)
                found.extend(fixed_waits_in(os.path.join(folder, name)))
    return found


def fixed_waits_in(path):
    found = []
    name = os.path.basename(path)
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if FIXED_WAIT.search(line) and not any(
                    name == allowed_file and text in line for allowed_file, text in ALLOWED):
                found.append("%s:%d: %s" % (os.path.relpath(path, helpers.TESTS), number,
                                            line.strip()))
    return found


def test_no_test_waits_a_fixed_number_of_seconds():
    found = fixed_waits()
    assert found == [], "wait up to helpers.HANG_S instead:\n" + "\n".join(found)


def test_the_scan_sees_a_fixed_wait():
    for line in ('subprocess.run(argv, timeout=600)', 'out.join(10)', 'c.wait(timeout=120)',
                 'deadline = time.time() + 30', 'assert time.time() - t0 < 60',
                 'def stop_with(proc, deadline_s=180):'):
        assert FIXED_WAIT.search(line), line
    for line in ('subprocess.run(argv, timeout=HANG_S)', 'out.join(HANG_S)',
                 'deadline = time.time() + HANG_S', '"--timeout", "4"'):
        assert not FIXED_WAIT.search(line), line


def test_the_limit_comes_from_the_environment():
    assert helpers.hang_limit({}) == helpers.HANG_S_DEFAULT >= 1800
    assert helpers.hang_limit({"DLBENCH_TEST_TIMEOUT": " 7200 "}) == 7200
    for bad in ("ten", "0", "-5", "1.5"):
        with pytest.raises(pytest.UsageError, match="DLBENCH_TEST_TIMEOUT=.*whole number"):
            helpers.hang_limit({"DLBENCH_TEST_TIMEOUT": bad})
