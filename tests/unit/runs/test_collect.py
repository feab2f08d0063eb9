"""harness/runs/container_run.py with a stand-in container (tests/helpers/fakes.py): every way a run can end leaves
a written, schema-valid result.json; a failed one carries its reason, and a broken file the
container wrote is kept as result.json.invalid. The real engine: tests/engine/test_engine_bench.py."""
import json
import os
import signal

import pytest

from helpers.fakes import FakeContainer, FakeEngine, stand_in_run
from harness.core import catalog
from harness.runs import container_run, contention, orphans, progress
from harness.containers import containers, engine, ownership, signals
from harness.results import results

EVENTS = [{"event": "start", "framework": "pytorch", "framework_version": "2.13.0",
           "device": "cpu"},
          {"event": "epoch", "epoch": 1, "epochs": 1, "loss": 2.25, "seconds": 1.5},
          {"event": "end", "status": "ok"}]
OUTPUT = ("".join(json.dumps(e) + "\n" for e in EVENTS[:2]) + "not an event {\n"
          + json.dumps(EVENTS[2]) + "\n").encode()


def ok_result():
    """What the container writes after a good run (the host adds provenance)."""
    return {
        "schema_version": 1, "task": "cnn", "framework": "pytorch", "adapter": "pytorch",
        "variant": "reference", "status": "ok", "reason": None, "exit_code": 0, "device": "cpu",
        "params": {"epochs": 1}, "data": {"source": "synthetic"},
        "env": {"python": "3.11.2", "numpy": "2.4.6"},
        "timings": {"train_seconds": 1.5, "images_per_second": 100.0},
        "metrics": {"test_accuracy": 0.5}, "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:00:02Z",
    }


OK = json.dumps(ok_result())


def make_run(tmp_path, **options):
    return stand_in_run(tmp_path, **options)


def execute(tmp_path, monkeypatch, container=None, writes=None, error=None, **options):
    """run_container on a stand-in engine; returns (result returned, run, said, tracker)."""
    fake = FakeEngine(container, writes=writes, error=error)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run, said, tracker = make_run(tmp_path, **options), [], containers.Tracker()
    result = container_run.run_container(run, tracker, lambda line, **kw: said.append(line))
    return result, run, said, tracker


def written(run, result):
    """The result.json on disk: the one returned, schema-valid, with the host's provenance."""
    on_disk = results.read_upgraded(run.result_path)
    assert on_disk == result
    assert results.validate(on_disk) == []
    assert "provenance_problems" not in on_disk
    p = on_disk["provenance"]
    assert p["run_id"] == run.opts.run_id and p["repeat"] == 1 and p["image"] == "pytorch-2.13"
    assert p["log"] == os.path.join(run.opts.run_id, "pytorch-2.13", "cnn-r1", "container.log")
    return on_disk


def failed(run, result, reason_start):
    r = written(run, result)
    assert r["status"] == "failed", r
    assert r["reason"].startswith(reason_start), r["reason"]
    return r


def invalid_kept(run, text):
    with open(run.result_path + ".invalid") as f:
        assert f.read() == text


def test_ok_run_keeps_the_result_its_log_and_its_events(tmp_path, monkeypatch):
    c = FakeContainer(OUTPUT, exit_code=0)
    result, run, said, tracker = execute(tmp_path, monkeypatch, c, writes=OK)
    r = written(run, result)
    assert r["status"] == "ok" and r["exit_code"] == 0 and r["metrics"]["test_accuracy"] == 0.5
    assert r["provenance"]["container_seconds"] == 2.5
    assert r["provenance"]["host_wall_seconds"] >= 0
    with open(run.log_path, "rb") as f:
        assert f.read() == OUTPUT
    with open(run.events_path) as f:
        assert [json.loads(line) for line in f] == EVENTS
    assert said == ["  " + progress.describe_event("pytorch-2.13 cnn r1", e) for e in EVENTS]
    assert c.removed and tracker.containers == [] and not c.killed
    assert not os.path.exists(run.result_path + ".invalid")


def test_no_result_file_says_the_exit_code_and_the_last_line(tmp_path, monkeypatch):
    c = FakeContainer(b"Traceback (most recent call last):\nValueError: boom\n", exit_code=1)
    result, run, _, _ = execute(tmp_path, monkeypatch, c)
    r = failed(run, result, "container exited with code 1 without writing a result: "
                            "ValueError: boom")
    assert r["exit_code"] == 1 and r["data"]["source"] == "synthetic"
    assert not os.path.exists(run.result_path + ".invalid")


def test_no_result_file_and_no_output(tmp_path, monkeypatch):
    result, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(b"", exit_code=0))
    failed(run, result, "container exited with code 0 without writing a result: no output")


def test_truncated_json_is_kept_as_invalid(tmp_path, monkeypatch):
    truncated = OK[:len(OK) // 2]
    result, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes=truncated)
    r = failed(run, result, "unreadable result.json (kept as result.json.invalid): ")
    assert r["exit_code"] == 0
    invalid_kept(run, truncated)


def test_json_that_is_not_an_object_is_kept_as_invalid(tmp_path, monkeypatch):
    result, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes="[1, 2]")
    failed(run, result, "unreadable result.json (kept as result.json.invalid): not a JSON object")
    invalid_kept(run, "[1, 2]")


def test_schema_invalid_result_is_kept_as_invalid(tmp_path, monkeypatch):
    bad = ok_result()
    del bad["env"]
    bad["data"]["source"] = "made-up"
    text = json.dumps(bad)
    result, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes=text)
    r = failed(run, result, "result does not match the schema (kept as result.json.invalid): ")
    assert r["exit_code"] == 0 and r["started"] == bad["started"]
    invalid_kept(run, text)


def test_a_kill_reason_survives_a_schema_invalid_result(tmp_path, monkeypatch):
    bad = ok_result()
    del bad["env"]
    c = FakeContainer(OUTPUT, exit_code=137, oom=True)
    result, run, _, _ = execute(tmp_path, monkeypatch, c, writes=json.dumps(bad), memory="40m")
    r = failed(run, result, "killed: out of memory (memory limit 40m); result does not match "
                            "the schema (kept as result.json.invalid): ")
    assert r["image"] == "pytorch-2.13" and r["framework"] == "pytorch"


def test_timeout_kill_wins_over_an_ok_result_written_before(tmp_path, monkeypatch):
    c = FakeContainer(OUTPUT, hang=True)
    result, run, _, tracker = execute(tmp_path, monkeypatch, c, writes=OK, timeout=1)
    r = failed(run, result, "timed out after 1 s (--timeout): container killed")
    assert c.killed and c.removed and tracker.containers == []
    assert r["exit_code"] == 137
    assert r["metrics"]["test_accuracy"] == 0.5  # what the container measured stays
    slices, after_kill = c.waits[:-1], c.waits[-1]
    assert len(slices) > 2 and all(0 < t <= containers.WAIT_SLICE for t in slices)
    assert after_kill == 30


def test_oom_kill_wins_over_an_ok_result_written_before(tmp_path, monkeypatch):
    c = FakeContainer(OUTPUT, exit_code=137, oom=True)
    result, run, _, _ = execute(tmp_path, monkeypatch, c, writes=OK, memory="40m")
    r = failed(run, result, "killed: out of memory (memory limit 40m)")
    assert r["exit_code"] == 137


def test_kill_reason_wins_over_an_unreadable_result(tmp_path, monkeypatch):
    c = FakeContainer(OUTPUT, exit_code=137, oom=True)
    result, run, _, _ = execute(tmp_path, monkeypatch, c, writes='{"task": "cn')
    # no --memory: a local run's default limit (bench.default_memory) is the one named
    failed(run, result, "killed: out of memory (memory limit %s)" % (run.opts.memory or "host"))
    invalid_kept(run, '{"task": "cn')


def test_nonzero_exit_after_an_ok_result(tmp_path, monkeypatch):
    result, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT, exit_code=3),
                                writes=OK)
    r = failed(run, result, "container exited with code 3 after an ok result")
    assert r["exit_code"] == 3


def test_engine_error_starting_the_container(tmp_path, monkeypatch):
    error = RuntimeError("500 Server Error\nNo such image: sha256:abab")
    result, run, _, tracker = execute(tmp_path, monkeypatch, error=error)
    r = failed(run, result, "could not run the container: No such image: sha256:abab")
    assert r["exit_code"] is None and r["provenance"]["container_seconds"] is None
    assert tracker.containers == []


def test_ctrl_c_kills_removes_writes_interrupted_and_reraises(tmp_path, monkeypatch):
    c = FakeContainer(OUTPUT, interrupt=True)
    fake = FakeEngine(c, writes=OK)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run, tracker = make_run(tmp_path), containers.Tracker()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        container_run.run_container(run, tracker, lambda *a, **k: None)
    assert signal.getsignal(signal.SIGINT) is before  # the cleanup's handlers are undone
    assert c.killed and c.removed and tracker.containers == []
    r = results.read_upgraded(run.result_path)
    assert results.validate(r) == []
    assert r["status"] == "failed" and r["reason"] == "interrupted (Ctrl-C)"
    assert r["exit_code"] == 130


def test_container_args_carry_the_catalog_labels(tmp_path, monkeypatch):
    _, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes=OK)
    args = run.container_args()
    assert args["labels"] == {catalog.RUN_LABEL: run.opts.run_id,
                              catalog.IMAGE_NAME_LABEL: "pytorch-2.13",
                              catalog.TASK_LABEL: "cnn"}
    assert args["network_mode"] == "none" and "device_requests" not in args


def test_create_args_name_the_dlbench_process_and_the_result_folder(tmp_path, monkeypatch):
    """What a later dlbench needs to tell whether this run's dlbench still lives, and to write
    its result should it not (harness/runs/orphans.py)."""
    _, run, _, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes=OK)
    labels = run.create_args()["labels"]
    me = ownership.Identity.this_process()
    assert labels[ownership.PID_LABEL] == str(os.getpid())
    assert labels[ownership.HOST_LABEL] == me.host and labels[ownership.PID_START_LABEL] == me.start
    assert labels[ownership.BOOT_LABEL] == me.boot_id and labels[ownership.PID_NS_LABEL] == me.pid_ns
    assert labels[orphans.DIR_LABEL] == run.dir
    assert labels[orphans.ROOT_LABEL] == run.opts.results_root
    assert (labels[orphans.VARIANT_LABEL], labels[orphans.DEVICE_LABEL],
            labels[orphans.SOURCE_LABEL], labels[orphans.REPEAT_LABEL],
            labels[orphans.ADAPTER_LABEL]) == ("reference", "cpu", "synthetic", "1", "pytorch")
    assert labels[catalog.RUN_LABEL] == run.opts.run_id  # the catalog labels stay
    assert ownership.owner_state(labels, me) == ownership.ALIVE


def test_a_start_failure_leaves_a_failed_result_and_removes_the_container(tmp_path,
                                                                          monkeypatch):
    """The container is made, tracked, then started: a start the engine refuses (here its
    command cannot be found) leaves no container in state Created, and the engine's own words
    in the result."""
    class APIError(Exception):
        explanation = ('failed to create task for container: failed to create shim task: OCI '
                       'runtime create failed: runc create failed: unable to start container '
                       'process: exec: "python3": executable file not found in $PATH: unknown')

    c = FakeContainer(OUTPUT, start_error=APIError("500 Server Error for http+docker://local"
                                                   "host/v1.41/containers/x/start"))
    result, run, _, tracker = execute(tmp_path, monkeypatch, c, writes=OK)
    r = failed(run, result, "could not start the container: failed to create task")
    assert 'exec: "python3": executable file not found in $PATH' in r["reason"]
    assert r["exit_code"] is None
    assert c.removed and tracker.containers == [] and not c.started
    assert not os.path.exists(run.log_path)  # it never ran: nothing followed


class Signalling(FakeContainer):
    """Sends `sig` to this process from inside the engine call named `at`."""

    def __init__(self, sig, at, **kw):
        FakeContainer.__init__(self, OUTPUT, **kw)
        self.sig, self.at = sig, at

    def _maybe(self, where):
        if where == self.at and self.sig is not None:
            sig, self.sig = self.sig, None
            os.kill(os.getpid(), sig)
            time_sleep(0.05)

    def wait(self, timeout=None):
        self._maybe("wait")
        return FakeContainer.wait(self, timeout)

    def reload(self):
        FakeContainer.reload(self)
        if self.waits:  # the host saw it exit
            self._maybe("reload after its exit")


def time_sleep(s):
    import time
    time.sleep(s)


@pytest.mark.parametrize("sig,reason,code", [
    (signal.SIGTERM, "terminated (SIGTERM)", 143),
    (signal.SIGHUP, "terminated (SIGHUP)", 129),
    (signal.SIGINT, "interrupted (Ctrl-C)", 130),
])
@pytest.mark.usefixtures("terminal_signals")
def test_a_stop_signal_while_the_container_runs(tmp_path, monkeypatch, sig, reason, code):
    c = Signalling(sig, "wait", hang=True)
    fake = FakeEngine(c, writes=OK)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run, tracker = make_run(tmp_path, timeout=20), containers.Tracker()  # lost: fail, not hang
    with signals.handled():
        with pytest.raises(KeyboardInterrupt) as caught:
            container_run.run_container(run, tracker, lambda *a, **k: None)
    assert signals.signum_of(caught.value) == sig
    assert c.killed and c.removed and tracker.containers == []
    r = results.read_upgraded(run.result_path)
    assert results.validate(r) == [] and results.host_provenance_problem(r) is None
    assert r["status"] == "failed" and r["reason"] == reason and r["exit_code"] == code


@pytest.mark.usefixtures("terminal_signals")
def test_a_stop_while_the_engine_makes_the_container_still_removes_it(tmp_path, monkeypatch):
    """SIGTERM inside the engine's create call: the container it made is tracked first, then
    the stop acts (before, it could be made and never known)."""
    c = FakeContainer(OUTPUT, hang=True)

    class Engine(FakeEngine):
        def create(self, **args):
            made = FakeEngine.create(self, **args)
            os.kill(os.getpid(), signal.SIGTERM)
            time_sleep(0.05)
            return made

    fake = Engine(c, writes=OK)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run, tracker = make_run(tmp_path, timeout=20), containers.Tracker()
    with signals.handled():
        with pytest.raises(signals.Stopped):
            container_run.run_container(run, tracker, lambda *a, **k: None)
    assert c.removed and not c.started and tracker.containers == []
    assert results.read_upgraded(run.result_path)["reason"] == "terminated (SIGTERM)"


@pytest.mark.usefixtures("terminal_signals")
def test_a_stop_after_the_run_ended_keeps_its_result(tmp_path, monkeypatch):
    """The container has exited with its result: a SIGTERM now waits until that result is
    collected (with the host's provenance), then stops the bench."""
    c = Signalling(signal.SIGTERM, "reload after its exit", exit_code=0)
    fake = FakeEngine(c, writes=OK)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run, tracker = make_run(tmp_path), containers.Tracker()
    with signals.handled():
        with pytest.raises(signals.Stopped):
            container_run.run_container(run, tracker, lambda *a, **k: None)
    r = results.read_upgraded(run.result_path)
    assert r["status"] == "ok" and r["metrics"]["test_accuracy"] == 0.5
    assert r["provenance"]["run_id"] == run.opts.run_id
    assert c.removed and tracker.containers == []


def test_contention_is_recorded_and_a_flagged_run_warns(tmp_path, monkeypatch):
    seen = contention.assess((0.0, 0, 0, 0), (10.0, 1900, 2000, 10 * 10 ** 9), 2,
                             others=["other-bench"])  # 1.9 CPUs busy, 1 ours: 0.9 others
    assert seen["flagged"]

    class Watch(object):
        def __init__(self, container, client):
            pass

        def begin(self):
            pass

        def sample(self):
            pass

        def end(self):
            return seen

    monkeypatch.setattr(contention, "Watch", Watch)
    result, run, said, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes=OK)
    r = written(run, result)
    assert r["status"] == "ok" and r["provenance"]["contention"] == seen
    warning = [line for line in said if "WARNING" in line]
    assert warning == ["  pytorch-2.13 cnn r1: WARNING: other work used 0.9 of 2 CPUs during "
                       "the run (threshold 0.5; other containers: other-bench): its timing "
                       "may be spoiled"]


def test_every_collected_run_says_what_it_saw_of_the_cpu(tmp_path, monkeypatch):
    """The real watch on a stand-in container too short to sample twice: recorded, not
    measured, not flagged."""
    result, run, said, _ = execute(tmp_path, monkeypatch, FakeContainer(OUTPUT), writes=OK)
    seen = written(run, result)["provenance"]["contention"]
    assert seen["measured"] is False and seen["flagged"] is False and seen["why_not_measured"]
    assert not [line for line in said if "WARNING" in line]
