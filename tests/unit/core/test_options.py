"""--memory and --seed are checked up front (harness/core/userinput.py): a usage error in one line,
Docker's own reading of sizes, the largest seed numpy takes."""
import os

import pytest
from helpers import run_cli


@pytest.mark.parametrize("value", ["abc", "4m", "1k", "-1", "0", "8x", "", "5.9m"])
def test_bad_memory_is_a_usage_error(tmp_path, value):
    res = run_cli("bench", "pytorch-2.13", "--synthetic", "--results-dir", str(tmp_path),
                  "--memory", value)
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--memory'" in res.output and "Traceback" not in res.output
    assert os.listdir(str(tmp_path)) == []  # no run folder


@pytest.mark.parametrize("value, size", [
    ("8g", 8 * 1024 ** 3), ("512m", 512 * 1024 ** 2), ("6m", 6 * 1024 ** 2),
    ("1.5g", 3 * 1024 ** 3 // 2), ("8GB", 8 * 1024 ** 3), ("6291456", 6291456),
    ("6144k", 6 * 1024 ** 2), ("6291456b", 6291456),
])
def test_memory_as_docker_reads_it(value, size):
    from harness.core import userinput
    assert userinput.memory_bytes(value) == size


@pytest.mark.parametrize("argv", [
    ("--seed", "-1"), ("--seed", "99999999999"), ("--seed", "4294967296"),
    ("--seed", "4294967295", "--repeat", "2"),
])
def test_bad_seed_is_a_usage_error(tmp_path, argv):
    res = run_cli("bench", "pytorch-2.13", "--synthetic", "--results-dir", str(tmp_path), *argv)
    assert res.exit_code == 2, res.output
    assert "'--seed'" in res.output and "Traceback" not in res.output
    assert os.listdir(str(tmp_path)) == []


def test_the_largest_seed_numpy_takes_is_accepted():
    from harness.core import userinput
    userinput.check_seeds(2 ** 32 - 1, 1)
    userinput.check_seeds(2 ** 32 - 3, 3)
    with pytest.raises(Exception):
        userinput.check_seeds(2 ** 32 - 3, 4)
