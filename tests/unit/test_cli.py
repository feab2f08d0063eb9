"""The command line: help everywhere, one clear line and a non-zero exit for bad input."""
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from helpers import HANG_S, one_line_error, run_cli

from harness.cli import main

from helpers import ROOT


def commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            for sub in commands(cmd, prefix + (name,)):
                yield sub


@pytest.mark.parametrize("argv", [()] + list(commands(main)), ids=lambda a: " ".join(a) or "-")
def test_help_on_every_command(argv):
    res = CliRunner().invoke(main, list(argv) + ["--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output




def test_list_shows_images_and_tasks():
    res = run_cli("list")
    assert res.exit_code == 0
    assert "pytorch-2.13" in res.output and "cnn,rnn,inference" in res.output
    assert "tensorflow,tensorflow-tuned,tensorflow-steps,jax,torch" in res.output  # keras-3.15's variants
    assert "_base" not in res.output


def test_unknown_image_lists_the_known_ones():
    line = one_line_error(run_cli("bench", "no-such-framework", "--synthetic"), exit_code=None)
    assert "no-such-framework" in line and "pytorch-2.13" in line


def test_unknown_task_is_a_usage_error():
    res = run_cli("bench", "pytorch-2.13", "--task", "lstm")
    assert res.exit_code == 2 and "lstm" in res.output


@pytest.mark.parametrize("argv", [
    ("bench", "pytorch-2.13", "--repeat", "0"),
    ("bench", "pytorch-2.13", "--device", "tpu"),
    ("bench", "pytorch-2.13", "--epochs", "-1"),
    ("bench", "pytorch-2.13", "--env", "NOEQUALS"),
    ("build", "pytorch-2.13", "--build-arg", "=x"),
    ("bench",),
])
def test_bad_arguments_are_usage_errors(argv):
    res = run_cli(*argv)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_real_data_missing_says_fetch_or_synthetic(tmp_path):
    line = one_line_error(run_cli("bench", "pytorch-2.13", "--task", "cnn",
                                  "--data-dir", str(tmp_path / "empty")), exit_code=None)
    assert "dlbench data fetch" in line and "--synthetic" in line


def test_unknown_variant(tmp_path):
    line = one_line_error(run_cli("bench", "pytorch-2.13", "--variant", "turbo", "--synthetic"),
                          exit_code=None)
    assert "turbo" in line and "reference" in line


def test_engine_down_is_one_line(tmp_path):
    env = dict(os.environ, DOCKER_HOST="unix://%s/no-docker.sock" % tmp_path,
               DLBENCH_ROOT=ROOT)
    res = subprocess.run([sys.executable, "-m", "harness.cli", "build", "pytorch-2.13"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=HANG_S)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("Error: cannot reach the Docker engine")
    assert len(res.stderr.strip().splitlines()) == 1


def test_results_when_empty(tmp_path):
    res = run_cli("results", "--results-dir", str(tmp_path))
    assert res.exit_code == 0 and "no results" in res.output


def test_unknown_task_lists_the_tasks_tasks_declares():
    line = one_line_error(run_cli("bench", "pytorch-2.13", "--task", "bogus"), exit_code=None)
    assert "'bogus': not a task; the tasks are cnn, rnn, inference" in line
