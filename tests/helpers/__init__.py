"""What the tests share, in one place: the project's folders, the image the engine tests use,
the suite's one limit on waits (HANG_S), whether this is CI, the engine tests' lock, and the
CLI helpers. Beside it: datagen (real-format data files), fakes (stand-ins for the engine where
a test must not need one), taskfiles (what a task file declares). tests/ is on sys.path
(pyproject.toml: pythonpath), so a test imports `from helpers import ...` from any folder."""
import contextlib
import fcntl
import os

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TESTS)
TASKS = os.path.join(ROOT, "tasks")
IMAGES = os.path.join(ROOT, "images")
FIXTURES = os.path.join(TESTS, "fixtures")

# the DenseNet-121 columns beside PyTorch's (issue 16): adapter -> image
DENSENET_IMAGES = {"keras3": "keras-3.15", "flax": "flax-0.12", "mxnet": "mxnet-1.9",
                   "chainer": "chainer-7.8"}
IMAGE = "pytorch-2.13"  # the image the engine tests build and run
HANG_S_DEFAULT = 3600


def hang_limit(environ=None):
    """Seconds after which a test stops waiting for real work: $DLBENCH_TEST_TIMEOUT, else
    HANG_S_DEFAULT. Only a hang should ever reach it."""
    raw = (os.environ if environ is None else environ).get("DLBENCH_TEST_TIMEOUT", "").strip()
    if not raw:
        return HANG_S_DEFAULT
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise pytest.UsageError("DLBENCH_TEST_TIMEOUT=%r: give a whole number of seconds, 1 or "
                                "more (the default is %d)" % (raw, HANG_S_DEFAULT))
    return seconds


try:
    HANG_S = hang_limit()
    HANG_S_PROBLEM = None
except pytest.UsageError as e:  # said by pytest_configure, in one line
    HANG_S, HANG_S_PROBLEM = HANG_S_DEFAULT, e



def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def _flock(path, mode):
    with open(path, "a") as f:
        fcntl.flock(f, mode)  # released when the file closes
        yield


@contextlib.contextmanager
def engine_lock(folder, alone):
    """A readers-writer lock over `folder`: shared for an engine test, exclusive for one marked
    alone. A writer takes the gate first and holds it while it waits, so readers that come
    after it wait at the gate instead of keeping it out."""
    gate, turn = os.path.join(folder, "engine.gate"), os.path.join(folder, "engine.turn")
    if alone:
        with _flock(gate, fcntl.LOCK_EX), _flock(turn, fcntl.LOCK_EX):
            yield
    else:
        with _flock(gate, fcntl.LOCK_SH):
            pass  # no writer waiting (or it has had its turn)
        with _flock(turn, fcntl.LOCK_SH):
            yield


def image(name):
    """The catalog's image images/NAME (its Dockerfile's LABELs read; nothing built)."""
    from harness.core import catalog
    return catalog.load_image(os.path.join(IMAGES, name))


def run_cli(*argv):
    """`dlbench ARGV...` in this process (click's CliRunner): its result."""
    from click.testing import CliRunner
    from harness.cli import main
    return CliRunner().invoke(main, list(argv))


def one_line_error(res, exit_code=1):
    """The one "Error..." line a failed `dlbench` command printed (a click CliRunner result),
    with no traceback; exit_code: the status it must have (None: any but 0)."""
    if exit_code is None:
        assert res.exit_code != 0, res.output
    else:
        assert res.exit_code == exit_code, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, res.output
    return errors[0]
