"""harness/containers/testrun.py: what a test run changes in the containers it starts (a shared compile
cache; OpenMP threads that sleep while two test workers share the CPUs), and that benchmark runs
never get."""
import os

from helpers.fakes import stand_in_run
from harness.containers import hardening, testrun
from harness.runs import runspec


def test_theano_flags_keep_what_was_given():
    ours = "base_compiledir=%s/theano" % testrun.CACHE_TARGET
    assert testrun.theano_flags(None) == ours
    assert testrun.theano_flags("floatX=float32,") == "floatX=float32," + ours
    # a compile directory the user chose wins
    assert testrun.theano_flags("base_compiledir=/x") == "base_compiledir=/x"
    env = {"THEANO_FLAGS": "mode=FAST_RUN", "FOO": "1"}
    assert testrun.cache_environment(env) == {"THEANO_FLAGS": "mode=FAST_RUN," + ours,
                                              "FOO": "1"}
    assert env["THEANO_FLAGS"] == "mode=FAST_RUN"  # not changed in place


def test_nothing_changes_outside_a_test_run(tmp_path):
    assert testrun.cache_dir("keras-2.3", {}) is None
    assert testrun.cache_dir("keras-2.3", {testrun.COMPILE_CACHE_ENV: " "}) is None
    assert testrun.cache_dir("keras-2.3", {testrun.COMPILE_CACHE_ENV: str(tmp_path)}) == \
        os.path.join(str(tmp_path), "keras-2.3")
    assert testrun.container_environment({}) == {}
    assert testrun.provenance("keras-2.3", {}) is None


def test_a_benchmark_run_gets_neither(tmp_path, monkeypatch):
    monkeypatch.delenv(testrun.COMPILE_CACHE_ENV, raising=False)
    monkeypatch.delenv(testrun.SHARED_CPUS_ENV, raising=False)
    spec = stand_in_run(tmp_path, env={"FOO": "1"}).spec()
    assert [m["target"] for m in spec.mounts if not m["read_only"]] == ["/results"]
    env = spec.hardening["environment"]
    assert "THEANO_FLAGS" not in env and "OMP_WAIT_POLICY" not in env


def test_a_test_run_mounts_the_image_cache_and_hands_it_to_the_container_user(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv(testrun.COMPILE_CACHE_ENV, str(tmp_path / "cache"))
    run = stand_in_run(tmp_path, env={"FOO": "1"})
    spec = run.spec()
    folder = str(tmp_path / "cache" / "pytorch-2.13")
    assert runspec.mount(folder, testrun.CACHE_TARGET, False) in spec.mounts
    env = spec.hardening["environment"]
    assert env["FOO"] == "1" and env["THEANO_FLAGS"] == testrun.theano_flags()
    assert run.opts.env == {"FOO": "1"}  # what the user asked stays as asked (user_env)
    args = runspec.SpecRun(spec).container_args()
    assert args["volumes"][folder] == {"bind": testrun.CACHE_TARGET, "mode": "rw"}
    st = os.stat(folder)
    assert (st.st_uid, st.st_gid) == hardening.run_ids()  # the container's user writes there
    assert run.container_args() == args  # the local path: the same arguments
    assert "compile cache" not in str(testrun.provenance("pytorch-2.13", {}))
    assert "reuse code" in testrun.provenance("pytorch-2.13")["compile_cache"]


def test_shared_cpus_make_every_container_s_openmp_threads_sleep(monkeypatch):
    monkeypatch.setenv(testrun.SHARED_CPUS_ENV, "1")
    assert hardening.settings()["environment"]["OMP_WAIT_POLICY"] == "PASSIVE"
    # what the caller sets wins (a user's -e)
    assert hardening.settings(environment={"OMP_WAIT_POLICY": "ACTIVE"})[
        "environment"]["OMP_WAIT_POLICY"] == "ACTIVE"
    assert testrun.provenance("x")["environment"] == {"OMP_WAIT_POLICY": "PASSIVE"}
    monkeypatch.setenv(testrun.SHARED_CPUS_ENV, "")
    assert "OMP_WAIT_POLICY" not in hardening.settings()["environment"]
