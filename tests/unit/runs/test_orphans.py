"""harness/runs/orphans.py: is a run's dlbench still alive (a reused pid, another boot, another host or
pid namespace), and the sweep that collects the containers of dead ones (stand-in engine and
containers, tests/helpers/fakes.py) without touching a live run's. The real engine, with a dlbench
killed by SIGKILL: tests/engine/test_engine_bench.py."""
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from helpers.fakes import FakeContainer, FakeEngine, written_result
from harness.core import catalog
from harness import cli
from harness.runs import orphans
from harness.containers import ownership
from harness.results import results

HERE = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 4242, "1000")


def labels_of(owner, folder="/nonexistent/run", **extra):
    labels = owner.labels()
    labels.update({catalog.RUN_LABEL: "20260101-000000-abcd",
                   catalog.IMAGE_NAME_LABEL: "pytorch-2.13", catalog.TASK_LABEL: "cnn",
                   orphans.DIR_LABEL: folder, orphans.ROOT_LABEL: os.path.dirname(
                       os.path.dirname(os.path.dirname(folder))),
                   orphans.ADAPTER_LABEL: "pytorch", orphans.VARIANT_LABEL: "reference",
                   orphans.DEVICE_LABEL: "cpu", orphans.SOURCE_LABEL: "synthetic",
                   orphans.REPEAT_LABEL: "1"})
    labels.update(extra)
    return labels


def starts(table):
    """A stand-in process table: pid -> start time."""
    return lambda pid: table.get(pid)


OWNER = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 777, "5000")


@pytest.mark.parametrize("owner,table,state", [
    (OWNER, {777: "5000"}, ownership.ALIVE),                        # running
    (OWNER, {}, ownership.DEAD),                                    # no such process
    (OWNER, {777: "9999"}, ownership.DEAD),                         # pid reused by another
    (ownership.Identity("bench-host", "boot-0", "pid:[4026531836]", 777, "5000"), {777: "5000"},
     ownership.DEAD),                                               # the host booted since
    (ownership.Identity("other-host", "boot-1", "pid:[4026531836]", 777, "5000"), {},
     ownership.UNKNOWN),                                            # another host's run
    (ownership.Identity("bench-host", "boot-1", "pid:[4026532000]", 777, "5000"), {},
     ownership.UNKNOWN),                                            # another pid namespace
])
def test_owner_state(owner, table, state):
    assert ownership.owner_state(labels_of(owner), HERE, starts(table)) == state


def test_owner_state_without_proc_goes_by_the_pid():
    """No /proc (no boot id, namespace or start time): a pid that exists is taken as alive
    (never touch a live run), one that does not as dead."""
    here = ownership.Identity("bench-host", "", "", 1, "")
    owner = ownership.Identity("bench-host", "", "", 777, "")
    assert ownership.owner_state(labels_of(owner), here, starts({777: ""})) == ownership.ALIVE
    assert ownership.owner_state(labels_of(owner), here, starts({})) == ownership.DEAD


def test_a_container_without_owner_labels_is_never_judged():
    """Started by a dlbench that did not label its process (or by hand): unknown."""
    old = {catalog.RUN_LABEL: "r", catalog.IMAGE_NAME_LABEL: "pytorch-2.13"}
    assert ownership.owner_state(old, HERE, starts({})) == ownership.UNKNOWN
    assert ownership.owner_state(dict(old, **{ownership.HOST_LABEL: "bench-host",
                                              ownership.PID_LABEL: "x"}), HERE, starts({})) \
        == ownership.UNKNOWN


@pytest.mark.skipif(not os.path.isfile("/proc/self/stat"), reason="needs Linux /proc")
def test_this_process_is_alive_and_an_ended_one_is_dead():
    me = ownership.Identity.this_process()
    assert me.pid == os.getpid() and me.start.isdigit() and me.boot_id and me.pid_ns
    assert ownership.owner_state(me.labels(), me) == ownership.ALIVE
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = ownership.Identity(me.host, me.boot_id, me.pid_ns, child.pid, "1")
    assert ownership.process_start(child.pid) is None
    assert ownership.owner_state(gone.labels(), me) == ownership.DEAD
    # a live pid with another start time: the dead run's pid was reused
    reused = ownership.Identity(me.host, me.boot_id, me.pid_ns, os.getpid(),
                                str(int(me.start) + 1))
    assert ownership.owner_state(reused.labels(), me) == ownership.DEAD


def test_process_start_reads_a_comm_with_spaces_and_parentheses(tmp_path):
    proc = tmp_path / "proc"
    (proc / "31").mkdir(parents=True)
    (proc / "self").mkdir()
    fields = ["S"] + [str(i) for i in range(4, 22)] + ["123456"] + ["0"] * 30
    (proc / "31" / "stat").write_text("31 (a) b (c)) " + " ".join(fields) + "\n")
    assert ownership.process_start(31, str(proc)) == "123456"
    assert ownership.process_start(32, str(proc)) is None


def run_folder(tmp_path):
    folder = tmp_path / "results" / "20260101-000000-abcd" / "pytorch-2.13" / "cnn-r1"
    folder.mkdir(parents=True)
    return folder


def sweep(*found):
    said = []
    written = orphans.sweep(FakeEngine(listed=found), lambda line, **kw: said.append(line),
                            HERE, starts({OWNER.pid: OWNER.start}))
    return written, said


def test_sweep_collects_a_running_orphan_and_spares_live_and_foreign_runs(tmp_path):
    dead_owner = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 555, "42")
    folder = run_folder(tmp_path)
    (folder / "container.log").write_bytes(b"up\n")  # what the dead dlbench had saved
    orphan = FakeContainer(b"up\nepoch 1\n", labels=labels_of(dead_owner, str(folder)),
                           name="dlbench-orphan", hang=True)
    live = FakeContainer(labels=labels_of(OWNER, str(tmp_path / "live")), name="live")
    foreign = FakeContainer(labels=labels_of(ownership.Identity("other-host", "b", "n", 555,
                                                                "42")), name="foreign")
    unlabelled = FakeContainer(labels={catalog.RUN_LABEL: "old"}, name="old")
    written, said = sweep(orphan, live, foreign, unlabelled)

    assert orphan.killed and orphan.removed
    for spared in (live, foreign, unlabelled):
        assert not spared.killed and not spared.removed
    path = str(folder / "result.json")
    assert written == [path]
    r = results.read_collected(path)  # schema-valid, with the host's provenance: a row of its own
    assert r["status"] == "failed" and r["exit_code"] == 137
    assert r["reason"].startswith("host died: dlbench (pid 555) ended without collecting this "
                                  "run")
    assert (r["task"], r["adapter"], r["variant"], r["device"], r["image"]) == (
        "cnn", "pytorch", "reference", "cpu", "pytorch-2.13")
    assert r["data"]["source"] == "synthetic" and r["started"] == "2026-01-01T00:00:00Z"
    p = r["provenance"]
    assert p["run_id"] == "20260101-000000-abcd" and p["repeat"] == 1
    assert p["log"] == os.path.join("20260101-000000-abcd", "pytorch-2.13", "cnn-r1",
                                    "container.log")
    assert (folder / "container.log").read_bytes() == b"up\nepoch 1\n"  # the whole output
    assert len(said) == 1 and "dlbench-orphan" in said[0] and "pid 555" in said[0]
    assert "was running" in said[0] and "failed result written" in said[0]


def test_sweep_keeps_the_container_s_own_result_aside(tmp_path):
    """The container outlived its dlbench and wrote its own "ok" result (no host provenance):
    the run gets a failed result, the container's file is kept as result.json.uncollected."""
    dead = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 556, "42")
    folder = run_folder(tmp_path)
    own = json.dumps(written_result())
    (folder / "result.json").write_text(own)
    exited = FakeContainer(labels=labels_of(dead, str(folder)), status="exited", exit_code=0)
    written, said = sweep(exited)
    assert exited.removed and not exited.killed
    r = results.read_collected(written[0])
    assert r["status"] == "failed" and r["exit_code"] == 0
    assert "(container had exited with code 0)" in r["reason"]
    assert r["reason"].endswith("the container's own result kept as result.json.uncollected")
    assert (folder / "result.json.uncollected").read_text() == own


def test_sweep_leaves_a_collected_result_alone(tmp_path):
    """dlbench died after it wrote the run's result but before it removed the container."""
    dead = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 557, "42")
    folder = run_folder(tmp_path)
    doc = written_result(image="pytorch-2.13", provenance={"run_id": "20260101-000000-abcd",
                                                           "image": "pytorch-2.13", "repeat": 1})
    (folder / "result.json").write_text(json.dumps(doc))
    c = FakeContainer(labels=labels_of(dead, str(folder)), status="exited")
    written, said = sweep(c)
    assert written == [] and c.removed
    assert json.loads((folder / "result.json").read_text()) == doc
    assert "already collected" in said[0]


def test_sweep_of_a_container_that_never_started_and_a_folder_that_is_gone(tmp_path):
    dead = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 558, "42")
    folder = run_folder(tmp_path)
    created = FakeContainer(labels=labels_of(dead, str(folder)), status="created")
    gone = FakeContainer(labels=labels_of(dead, str(tmp_path / "deleted" / "a" / "b" / "c")),
                         status="exited", name="gone")
    written, said = sweep(created, gone)
    r = results.read_collected(written[0])
    assert r["exit_code"] is None and "(container never started)" in r["reason"]
    assert created.removed and gone.removed
    assert "result folder" in said[1] and "is gone" in said[1]


def test_sweep_of_a_folder_it_may_not_write_still_removes_the_container(tmp_path, monkeypatch):
    """Another user's results folder: the line says why no result was written."""
    dead = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 560, "42")
    folder = run_folder(tmp_path)

    def refused(result, path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(results, "write", refused)
    c = FakeContainer(labels=labels_of(dead, str(folder)), hang=True)
    written, said = sweep(c)
    assert written == [] and c.killed and c.removed
    assert "cannot write its result in %s" % folder in said[0] and "Permission denied" in said[0]


def test_sweep_without_an_answer_from_the_engine_does_nothing():
    class Down(object):
        class containers(object):
            @staticmethod
            def list(**kw):
                raise ConnectionError("engine down")

    assert orphans.sweep(Down(), lambda *a, **k: None, HERE) == []


def test_results_command_collects_orphans_then_lists_them(tmp_path, monkeypatch):
    dead = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 559, "42")
    folder = run_folder(tmp_path)
    c = FakeContainer(labels=labels_of(dead, str(folder)), hang=True, name="dlbench-x")
    fake = FakeEngine(listed=[c])
    monkeypatch.setattr(orphans, "quick_client", lambda: fake)
    monkeypatch.setattr(ownership.Identity, "this_process", classmethod(lambda cls: HERE))
    monkeypatch.setattr(ownership, "process_start", starts({}))
    out = CliRunner().invoke(cli.main, ["results", "--results-dir", str(tmp_path / "results")])
    assert out.exit_code == 0, out.output
    assert c.removed and "orphaned container dlbench-x" in out.output
    row = [l for l in out.output.splitlines() if l.startswith("20260101-000000-abcd")][0]
    assert "failed" in row and "host died: dlbench (pid 559)" in row


def test_results_command_works_without_an_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(orphans, "quick_client", lambda: None)
    out = CliRunner().invoke(cli.main, ["results", "--results-dir", str(tmp_path)])
    assert out.exit_code == 0 and "no results" in out.output


def test_sweep_removes_a_dead_dlbench_s_one_shot_containers_and_spares_a_live_one_s():
    """check-models, data prepare and pip freeze containers (harness/containers/oneshot.py) carry
    the same owner labels: a dead owner's are removed (no result to write), a live one's kept."""
    dead = ownership.Identity("bench-host", "boot-1", "pid:[4026531836]", 561, "42")
    gone = FakeContainer(labels=dict(dead.labels(), **{ownership.ONESHOT_LABEL: "check-models"}),
                         hang=True, name="dlbench-check-x")
    live = FakeContainer(labels=dict(OWNER.labels(), **{ownership.ONESHOT_LABEL: "pip-freeze"}),
                         hang=True, name="dlbench-pip-freeze-y")
    said = []
    written = orphans.sweep(FakeEngine(listed=[gone, live]), lambda text, err=False:
                            said.append(text), HERE, starts({777: "5000"}))
    assert written == []
    assert gone.removed and not live.removed
    assert said == ["orphaned check-models container dlbench-check-x (; its dlbench, pid 561, "
                    "is gone): removed"]
