"""The suite's fixtures (the helpers they use live in tests/helpers/).

Layout: tests/unit/<subpackage>/ mirrors harness/<subpackage>/ (tests/unit/ itself: the command
line and the layout), tests/tasks/ the container side (tasks/), tests/engine/ every test that
needs a Docker engine, tests/project/ the project's own files (docs, CI scripts, dependencies,
bench/ scripts, the suite's rules).

Data: helpers.datagen's make_cifar_tarball(path, n) and make_imdb_npz(path, n) write small files
in the real CIFAR-10 / IMDB formats, so the real loaders run.

Engine: tests marked `engine` need a running Docker engine. Outside CI they are skipped when
there is none; with CI=true a missing engine is a failure, never a skip.

Parallel: `make test` runs the suite in two pytest-xdist workers (TEST_JOBS). Engine tests of
the two workers run side by side, except a test marked `alone`: its assertions read what a busy
neighbour could change (the clock check of a 10-step run, whose host copy may take 1 % of about a
second; a dead dlbench's container, which another worker's bench would sweep first), so it runs
with no other engine test beside it (engine_turn: a shared lock for every engine test, an exclusive
one for `alone`, waiting writers served first).

Waits: no test waits a fixed short time for real work (a subprocess, a container, a cluster
job), since a slower or loaded machine must never fail a test by slowness alone. Every such wait
is bounded by HANG_S, one generous limit for the whole suite (DLBENCH_TEST_TIMEOUT seconds,
default 3600), so a hang still ends; raise it on a very slow machine.
tests/project/test_test_timeouts.py keeps numeric timeouts out of the tests."""
import functools
import http.server
import os
import threading

import pytest

from helpers import HANG_S, HANG_S_PROBLEM, IMAGE, ROOT, engine_lock, in_ci
from helpers.datagen import make_data_dir


def pytest_configure(config):
    if HANG_S_PROBLEM is not None:
        raise HANG_S_PROBLEM
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # two workers share the CPUs: OpenMP threads that wait sleep instead of spinning
        # against the other worker's, in the containers (harness/containers/testrun.py) and in the host
        # processes the tests start (the PyTorch tasks on the host)
        from harness.containers import testrun
        os.environ[testrun.SHARED_CPUS_ENV] = "1"
        os.environ.update(testrun.SHARED_CPUS_ENVIRONMENT)


def engine_problem():
    """None when a Docker engine answers, else why not."""
    try:
        import docker
        docker.from_env(timeout=HANG_S).ping()
        return None
    except Exception as e:
        return "%s: %s" % (type(e).__name__, str(e).splitlines()[-1] if str(e) else "")


@pytest.fixture(scope="session")
def engine():
    problem = engine_problem()
    if problem:
        if in_ci():
            pytest.fail("CI=true but no Docker engine answers (%s)" % problem)
        pytest.skip("no Docker engine (%s)" % problem)
    import docker
    return docker.from_env(timeout=HANG_S)  # per engine request


@pytest.fixture(scope="session")
def built_image(engine):
    """dlbench/pytorch-2.13 built (or reused) through the harness, once per session."""
    from harness.images import build
    from harness.core import catalog
    os.environ.setdefault("DLBENCH_ROOT", ROOT)
    image = catalog.lookup([IMAGE])[0]
    lines = []
    done = build.ensure_built(image, echo=lines.append)
    return done


def run_folder(tmp_path_factory):
    """A folder of this test run that every pytest-xdist worker sees (their temporary folders
    share a parent)."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


@pytest.fixture(scope="session")
def compile_cache_root(tmp_path_factory):
    """One folder for the whole test run's shared compile caches (harness/containers/testrun.py), the
    same for every pytest-xdist worker."""
    folder = run_folder(tmp_path_factory) / "compile-cache"
    folder.mkdir(exist_ok=True)
    return str(folder)


@pytest.fixture(autouse=True)
def engine_turn(request, tmp_path_factory):
    """Only under pytest-xdist: engine tests side by side, `alone` ones by themselves."""
    if (not os.environ.get("PYTEST_XDIST_WORKER")
            or request.node.get_closest_marker("engine") is None):
        yield
        return
    alone = request.node.get_closest_marker("alone") is not None
    with engine_lock(str(run_folder(tmp_path_factory)), alone):
        yield


@pytest.fixture
def shared_compile_cache(compile_cache_root, monkeypatch):
    """The test's bench and check-models containers share the run's compile caches
    (DLBENCH_TEST_COMPILE_CACHE): Theano compiles each graph once per test run instead of once
    per container (a keras-2.3 CNN container: 56 s alone, 14 s after another compiled it)."""
    from harness.containers import testrun
    monkeypatch.setenv(testrun.COMPILE_CACHE_ENV, compile_cache_root)
    return compile_cache_root


@pytest.fixture
def data_dir(tmp_path):
    """A data cache with small real-format CIFAR-10 and IMDB files."""
    return make_data_dir(str(tmp_path / "data"), n=64)


@pytest.fixture
def terminal_signals():
    """SIGINT, SIGTERM and SIGHUP at their default actions for the test, as in a terminal's
    foreground job: a test runner started in the background by a non-interactive shell (a CI
    script may be) inherits SIGINT ignored, and an ignored signal stays ignored in dlbench
    (harness/containers/signals.py), so a test that sends SIGINT needs this."""
    import signal
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL,
                signal.SIGHUP: signal.SIG_DFL}
    old = {sig: signal.signal(sig, handler) for sig, handler in defaults.items()}
    yield
    for sig, handler in old.items():
        signal.signal(sig, handler)


@pytest.fixture(autouse=True)
def _project_root(monkeypatch):
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www over HTTP on 127.0.0.1; yields (base URL, folder, request log)."""
    www = tmp_path / "www"
    www.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1], www, requests
    httpd.shutdown()
    httpd.server_close()
