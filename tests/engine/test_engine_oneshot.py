"""harness/containers/oneshot.py on the real engine: a one-shot container is hardened, carries its
owner's labels and purpose while it runs, hands back its exit code and output, is killed at its
timeout, and is gone afterwards in every case; one left by a dead dlbench is swept. Needs an
engine."""
import os
import threading
import time

import pytest

from helpers import HANG_S
from harness.containers import hardening, oneshot, ownership
from harness.images import build
from harness.runs import orphans

pytestmark = [pytest.mark.engine]

BASE = "debian:bookworm-slim"


@pytest.fixture(scope="module")
def base(engine):
    build.ensure_base(BASE, echo=lambda *a, **k: None)
    return BASE


def ours(engine, purpose):
    return engine.containers.list(all=True, filters={"label": "%s=%s" % (
        ownership.ONESHOT_LABEL, purpose)})


def test_exit_code_output_and_nothing_left(engine, base, tmp_path):
    log = tmp_path / "out.log"
    done = oneshot.run(base, ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"],
                       "test-exit", timeout=HANG_S, log_path=str(log))
    assert (done.exit_code, done.problem, done.ok) == (3, None, False)
    assert "to-out" in done.output and "to-err" in done.output
    assert log.read_text() == done.output
    only_out = oneshot.run(base, ["sh", "-c", "echo to-out; echo to-err >&2"], "test-exit",
                           timeout=HANG_S, stderr=False)
    assert only_out.ok and only_out.output == "to-out\n"
    assert ours(engine, "test-exit") == []


def test_hardened_and_labelled_while_it_runs(engine, base):
    seen, finished = {}, threading.Event()

    def look():  # until the run returns: the container exists from its create call on
        while not finished.is_set():
            found = ours(engine, "test-labels")
            if found:
                seen["labels"] = found[0].labels
                seen["host_config"] = found[0].attrs["HostConfig"]
                return
            time.sleep(0.1)
    watcher = threading.Thread(target=look)
    watcher.start()
    try:
        done = oneshot.run(base, ["sh", "-c", "grep CapEff /proc/self/status; id -u; sleep 3"],
                           "test-labels", timeout=HANG_S)
    finally:
        finished.set()
        watcher.join(HANG_S)
    assert "labels" in seen, "the container was never seen while it ran"
    assert done.ok, done.output
    assert "CapEff:\t0000000000000000" in done.output
    assert done.output.split()[-1] == str(hardening.settings()["user"]).split(":")[0]
    labels = seen["labels"]
    assert labels[ownership.PID_LABEL] == str(os.getpid())
    assert labels[ownership.ONESHOT_LABEL] == "test-labels"
    assert seen["host_config"]["ReadonlyRootfs"] is True
    assert seen["host_config"]["NetworkMode"] == "none"
    assert ours(engine, "test-labels") == []


def test_killed_at_its_timeout(engine, base):
    t0 = time.time()
    done = oneshot.run(base, ["sleep", "60"], "test-timeout", timeout=2)
    assert done.exit_code is None and done.problem == "timed out after 2 s"
    assert time.time() - t0 < HANG_S
    assert ours(engine, "test-timeout") == []


def test_an_image_the_engine_refuses_is_one_line(engine):
    done = oneshot.run("dlbench/no-such-image:never", ["true"], "test-refused", timeout=HANG_S)
    assert done.problem.startswith("could not run the container: ")
    assert "\n" not in done.problem
    assert done.refused and done.problem.endswith(done.refused)  # the engine's words, kept apart


def test_a_dead_dlbench_s_one_shot_is_swept(engine, base):
    """Its owner died without removing it (SIGKILL): the next sweep removes it."""
    dead = ownership.Identity.this_process()
    dead.pid, dead.start = 2 ** 22 + 7, "1"  # above pid_max's default: no such process
    args = hardening.settings()
    args.update(image=base, command=["sleep", "60"], detach=True,
                labels=dict(dead.labels(), **{ownership.ONESHOT_LABEL: "test-swept"}))
    c = engine.containers.create(**args)
    try:
        c.start()
        said = []
        orphans.sweep(engine, lambda text, err=False: said.append(text))
        assert ours(engine, "test-swept") == []
        assert any("orphaned test-swept container" in s for s in said), said
    finally:
        try:
            c.remove(force=True)
        except Exception:
            pass


def test_a_shared_folder_stays_writable_for_the_next_container(engine, base, tmp_path):
    """A test run's compile cache is written by every container of an image: what one
    container made there must stay writable to the next (a check-models container that gave
    the cache back to root made the next keras-2.3 and theano-1.0 runs fail: "compiledir ...
    exists but you don't have read, write or listing permissions"). A writable folder is given
    back to the caller."""
    shared, own = tmp_path / "cache", tmp_path / "out"
    shared.mkdir()
    own.mkdir()
    volumes = {str(shared): {"bind": "/cache", "mode": "rw"},
               str(own): {"bind": "/out", "mode": "rw"}}
    for step in ("first", "second"):
        done = oneshot.run(base, ["sh", "-c", "mkdir -p /cache/sub && echo %s > /cache/sub/%s "
                                  "&& echo %s > /out/%s" % (step, step, step, step)],
                           "test-shared", volumes=volumes, writable=[str(own)],
                           shared=[str(shared)], timeout=HANG_S)
        assert done.ok, done.output
    assert (shared / "sub" / "second").read_text() == "second\n"
    st = os.stat(str(own / "second"))
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
