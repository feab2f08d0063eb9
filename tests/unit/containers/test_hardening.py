"""harness/containers/hardening.py: the settings every dlbench container gets (one plain dict), the uid
policy, the results folder handed to the container's user and given back, and that the bench
runs and the pip freeze container both use them. The real engine:
tests/engine/test_engine_hardening.py."""
import os
import types

import pytest

from harness.core import catalog
from harness.containers import engine, hardening, ownership
from harness.runs import provenance
from harness.launch import bench
from helpers import TASKS

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@pytest.fixture(autouse=True)
def _benchmark_settings(monkeypatch):
    """The settings a benchmark run gets: not a test run's (harness/containers/testrun.py), which
    `make test`'s workers set for every container they start."""
    from harness.containers import testrun
    monkeypatch.delenv(testrun.SHARED_CPUS_ENV, raising=False)


def test_settings_are_one_plain_dict_of_sdk_arguments():
    s = hardening.settings(uid=1000, gid=1000, cpus=2)
    assert s == {
        "user": "1000:1000",
        "network_mode": "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 1024 + 32 * 2,
        "read_only": True,
        "tmpfs": {"/tmp": "rw,exec,nosuid,nodev,size=2g,mode=1777"},
        "working_dir": "/tmp",
        "environment": {"HOME": "/tmp", "XDG_CACHE_HOME": "/tmp/.cache",
                        "XDG_CONFIG_HOME": "/tmp/.config", "TMPDIR": "/tmp"},
        "log_config": {"type": "json-file", "config": {"max-size": "100m", "max-file": "2"}},
    }
    s["environment"]["X"] = "1"  # a fresh dict each call: a caller may change its copy
    assert "X" not in hardening.settings(cpus=2)["environment"]


def test_every_writable_place_is_on_the_tmpfs():
    s = hardening.settings(cpus=1)
    for value in s["environment"].values():
        assert value == "/tmp" or value.startswith("/tmp/")
    assert s["working_dir"] in s["tmpfs"]


def test_callers_environment_wins_and_is_not_changed():
    mine = {"HOME": "/tmp/home", "OMP_NUM_THREADS": "1"}
    s = hardening.settings(environment=mine, cpus=1)
    assert s["environment"]["HOME"] == "/tmp/home"
    assert s["environment"]["OMP_NUM_THREADS"] == "1"
    assert s["environment"]["XDG_CACHE_HOME"] == "/tmp/.cache"
    assert mine == {"HOME": "/tmp/home", "OMP_NUM_THREADS": "1"}


def test_root_runs_as_nobody_anyone_else_as_themselves():
    assert hardening.run_ids(0, 0) == (65534, 65534)
    assert hardening.run_ids(0, 1000) == (65534, 65534)
    assert hardening.run_ids(1000, 100) == (1000, 100)
    assert hardening.settings(uid=0, gid=0)["user"] == "65534:65534"
    me = hardening.run_ids()
    assert me[0] != 0
    assert me == ((os.getuid(), os.getgid()) if os.getuid() else (65534, 65534))


def test_pids_limit_grows_with_the_cpus():
    assert hardening.pids_limit(1) == 1056
    assert hardening.pids_limit(256) == 9216
    assert hardening.pids_limit() == 1024 + 32 * os.cpu_count()
    # far above the most measured (JAX: about 8 + 7 per CPU)
    for cpus in (1, 2, 16, 64, 256):
        assert hardening.pids_limit(cpus) > 4 * (8 + 7 * cpus)


def make_run(tmp_path, **options):
    image = catalog.lookup(["pytorch-2.13"])[0]
    image_obj = types.SimpleNamespace(id="sha256:" + "ab" * 32, labels={})
    opts = bench.BenchOptions(synthetic=True, results_root=str(tmp_path / "results"),
                              data_dir=str(tmp_path / "data"), run_id="20260101-000000-abcd",
                              **options)
    return bench.Run(image, image_obj, "cnn", "reference", 1, "cpu", opts, {})


def test_container_args_are_the_settings_plus_the_run(tmp_path):
    run = make_run(tmp_path, env={"FOO": "1"}, memory="2g")
    args = run.container_args()
    for key, value in hardening.settings(environment={"FOO": "1"}).items():
        assert args[key] == value, key
    assert args["image"] == run.image_obj.id and args["command"] == run.command()
    assert args["volumes"][run.dir] == {"bind": "/results", "mode": "rw"}
    assert args["volumes"][TASKS] == {"bind": "/tasks", "mode": "ro"}
    assert args["mem_limit"] == "2g" and args["memswap_limit"] == "2g"
    assert not args["user"].startswith("0:")
    assert os.path.isdir(run.dir)  # made, for the container's user


@as_root
def test_root_hands_the_results_folder_over_and_takes_it_back(tmp_path):
    path = str(tmp_path / "run" / "cnn-r1")
    hardening.prepare_results_dir(path, "65534:65534")
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert os.stat(os.path.dirname(path)).st_uid == 0  # only the run's folder is handed over
    # what the container leaves: a file, a folder, a link to a file of the host
    victim = tmp_path / "host-file"
    victim.write_text("x")
    for name in ("result.json", "sub", "sub/f", "link"):
        p = os.path.join(path, name)
        if name == "sub":
            os.mkdir(p)
        elif name == "link":
            os.symlink(str(victim), p)
        else:
            open(p, "w").close()
        os.lchown(p, 65534, 65534)
    os.chown(str(victim), 1234, 1234)
    hardening.reclaim_results_dir(path)
    for p in [path] + [os.path.join(path, n) for n in ("result.json", "sub", "sub/f", "link")]:
        st = os.lstat(p)
        assert (st.st_uid, st.st_gid) == (0, 0), p
    assert os.stat(str(victim)).st_uid == 1234  # the link was not followed


@as_root
def test_a_folder_already_the_users_is_left_alone(tmp_path):
    path = str(tmp_path / "r")
    hardening.prepare_results_dir(path, "0:0")
    assert os.stat(path).st_uid == 0
    hardening.reclaim_results_dir(str(tmp_path / "missing"))  # no folder: nothing to do


def test_pip_freeze_container_gets_the_settings(tmp_path, monkeypatch):
    seen = {}

    class Container(object):
        def start(self):
            pass

        def wait(self, timeout=None):
            return {"StatusCode": 0}

        def logs(self, stdout=True, stderr=True):
            seen["stderr"] = stderr
            return b"torch==2.13.0\nnumpy==2.4.6\n"

        def remove(self, force=False):
            seen["removed"] = True

    class Containers(object):
        def create(self, **kw):
            seen.update(kw)
            return Container()

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(engine, "client", lambda: types.SimpleNamespace(containers=Containers()))
    assert provenance.pip_freeze("sha256:" + "cd" * 32) == ["torch==2.13.0", "numpy==2.4.6"]
    expected = hardening.settings(environment={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    for key, value in expected.items():
        assert seen[key] == value, key
    assert seen["command"] == ["python3", "-m", "pip", "freeze", "--all"]
    assert seen["image"] == "sha256:" + "cd" * 32
    assert seen["stderr"] is False and seen["removed"] is True  # stdout only; not left behind
    assert seen["labels"][ownership.ONESHOT_LABEL] == "pip-freeze"  # swept if dlbench dies


@as_root
def test_a_tree_is_handed_over_whole_without_following_links(tmp_path):
    """`dlbench data prepare` resumes an earlier run's work: the journal and copies that run
    left (given back to root after it) must be the container's again, not only the folder."""
    out = tmp_path / "images-38"
    (out / "sub").mkdir(parents=True)
    (out / ".journal").write_text("x\n")
    (out / "sub" / "a.png").write_bytes(b"png")
    victim = tmp_path / "victim"
    victim.write_text("root's")
    os.symlink(str(victim), str(out / "link"))
    hardening.prepare_results_dir(str(out), "65534:65534", tree=True)
    for p in (out, out / ".journal", out / "sub", out / "sub" / "a.png", out / "link"):
        st = os.lstat(str(p))
        assert (st.st_uid, st.st_gid) == (65534, 65534), p
    assert os.stat(str(victim)).st_uid == 0  # the link's target stays root's
    hardening.prepare_results_dir(str(out / "sub"), "65534:65534")  # folder only: as before
    hardening.reclaim_results_dir(str(out))
    assert os.stat(str(out / ".journal")).st_uid == 0
