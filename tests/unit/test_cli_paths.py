"""Folders the user names that cannot be written (under /proc, under a file) are refused up front,
in one line, by every command that writes: bench, report, vendor, data fetch."""
import os

import pytest
from helpers import one_line_error, run_cli


def _impossible(tmp_path):
    """Folders no one can create: one in /proc, one under a regular file."""
    regular = tmp_path / "a-file"
    regular.write_text("x")
    return ["/proc/dlbench-x", str(regular / "sub")]


@pytest.mark.parametrize("which", [0, 1], ids=["proc", "under-a-file"])
def test_bench_results_dir_that_cannot_be_written(tmp_path, which):
    path = _impossible(tmp_path)[which]
    line = one_line_error(run_cli("bench", "pytorch-2.13", "--synthetic", "--results-dir", path))
    assert line.startswith("Error: --results-dir %s: cannot write there (" % path)


@pytest.mark.parametrize("which", [0, 1], ids=["proc", "under-a-file"])
def test_report_out_that_cannot_be_written(tmp_path, which):
    path = _impossible(tmp_path)[which]
    line = one_line_error(run_cli("report", "--results-dir", str(tmp_path), "--out", path))
    assert line.startswith("Error: --out %s: cannot write there (" % path)
    # the report goes into the results folder by default: the same check
    line = one_line_error(run_cli("report", "--results-dir", path))
    assert line.startswith("Error: report folder %s: cannot write there (" % path)


@pytest.mark.parametrize("which", [0, 1], ids=["proc", "under-a-file"])
def test_vendor_out_that_cannot_be_written(tmp_path, which):
    path = os.path.join(_impossible(tmp_path)[which], "x.tar")
    line = one_line_error(run_cli("vendor", "pytorch-2.13", "-o", path))
    assert line.startswith("Error: -o %s: cannot write there (" % path)


def test_data_fetch_dest_that_cannot_be_written(tmp_path):
    path = _impossible(tmp_path)[1]
    line = one_line_error(run_cli("data", "fetch", "--dest", path))
    assert line.startswith("Error: data folder %s: cannot write there (" % path)
