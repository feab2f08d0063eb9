"""Cluster runs for real: the one-node SLURM cluster and the loopback registry that .ci/run starts
(.ci/slurm-up.sh, .ci/registry-up.sh), the Docker engine, dlbench/pytorch-2.13. Outside CI these
tests are skipped when the cluster or the registry is not up; with CI=true that is a failure.

What runs: `dlbench push`, then a tiny `bench --on slurm --registry` of every task (each job pulls
the image by digest on its node and runs it like the local path: same schema, plus the node, job
id and partition); a job cancelled with scancel and one past its time limit, each leaving a
failed result with SLURM's reason and no container; a digest mismatch refused by the node; a
detached bench collected later by `dlbench results`; the Kubernetes manifests of a real bench,
validated."""
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import HANG_S, IMAGE, ROOT, in_ci
from harness.core import catalog
from harness.results import results
from harness.runs import runspec
from harness.launch import bench, slurm

# one worker runs the module: its fixtures push once and submit the one job past its time limit
pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.xdist_group("cluster")]

REGISTRY = "localhost:%s" % os.environ.get("DLBENCH_REGISTRY_PORT", "5000")


def _unavailable(why):
    if in_ci():
        pytest.fail("CI=true but %s" % why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("sinfo") is None:
        _unavailable("no SLURM here (bash .ci/slurm-up.sh starts a one-node cluster)")
    out = subprocess.run(["sinfo", "-h", "-o", "%T|%P|%N"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=HANG_S)
    lines = [line.split("|") for line in out.stdout.split()]
    up = [line for line in lines if line[0] in ("idle", "mixed", "allocated")]
    if out.returncode != 0 or not up:
        _unavailable("no SLURM node up (%s): bash .ci/slurm-up.sh"
                     % (out.stderr.strip() or out.stdout.strip()))
    return {"partition": up[0][1].rstrip("*"), "node": up[0][2]}


@pytest.fixture(scope="module")
def registry():
    try:
        urllib.request.urlopen("http://%s/v2/" % REGISTRY, timeout=HANG_S).close()
    except Exception as e:
        _unavailable("no registry at %s (%s): bash .ci/registry-up.sh" % (REGISTRY, e))
    return REGISTRY


def cli(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli"] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=HANG_S)


@pytest.fixture(scope="module")
def pushed(built_image, registry):
    out = cli("push", IMAGE, "--registry", registry)
    assert out.returncode == 0, out.stdout
    ref = out.stdout.split("pushed ", 1)[1].split()[0]
    assert ref.startswith("%s/dlbench/%s@sha256:" % (registry, IMAGE))
    return ref


def say_into(lines):
    def say(text, err=False):
        lines.append(text)
    return say


@pytest.fixture(scope="module")
def timed(cluster, built_image, tmp_path_factory):
    """A job past its time limit: submitted first (SLURM's minimum limit is one minute, and it
    checks limits about every 30 s), followed to its end by the module's last test, so the
    wait overlaps the other tests (which share the node: --share-nodes)."""
    lines = []
    ex = slurm.Executor(slurm.SlurmOptions(time_limit="1", exclusive=False, poll=1),
                        str(tmp_path_factory.mktemp("timed")), say_into(lines))
    ex.add(_sleeping_spec(built_image, tmp_path_factory.mktemp("timed-results"), "cnn"))
    return ex, lines


def found_results(root):
    return [results.read_collected(p) for p in sorted(glob.glob(os.path.join(root, "*/*/*/result.json")))]


def test_a_tiny_slurm_bench_runs_every_task_from_the_registry(cluster, timed, pushed,
                                                              built_image, data_dir, tmp_path):
    out_dir = str(tmp_path / "results")
    out = cli("bench", IMAGE, "--on", "slurm", "--registry", REGISTRY, "--partition",
              cluster["partition"], "--share-nodes", "--epochs", "1", "--limit", "64",
              "--data-dir", data_dir, "--results-dir", out_dir)
    assert out.returncode == 0, out.stdout
    assert "submitted (job " in out.stdout and ": running on %s" % cluster["node"] in out.stdout
    found = found_results(out_dir)  # results.read_collected: schema-valid, collected (what report reads)
    assert sorted(r["task"] for r in found) == ["cnn", "inference", "rnn"]
    for r in found:
        assert r["status"] == "ok" and r["exit_code"] == 0, r.get("reason")
        p = r["provenance"]
        assert p["image_digest"] == pushed and p["image_id"] == built_image.image_id
        assert p["host"] == cluster["node"]
        assert p["slurm"]["node"] == cluster["node"]
        assert p["slurm"]["partition"] == cluster["partition"]
        assert p["slurm"]["job_id"].isdigit()
        assert any(line.startswith("torch==2.13.0") for line in p["pip_freeze"])
    assert len({r["provenance"]["slurm"]["job_id"] for r in found}) == 3  # one job per run
    table = cli("results", "--results-dir", out_dir)
    assert table.returncode == 0 and table.stdout.count(IMAGE) == 3


def _sleeping_spec(built_image, tmp_path, task, seconds=600):
    """A real run's description whose command sleeps (a run that outlives its job)."""
    image = catalog.lookup([IMAGE])[0]
    import docker
    obj = docker.from_env().images.get(built_image.image_id)
    opts = bench.BenchOptions(synthetic=True, results_root=str(tmp_path / "results"),
                              tasks=[task])
    run = bench.Run(image, obj, task, "reference", 1, "cpu", opts,
                    {"image": IMAGE, "image_id": obj.id, "pip_freeze": []})
    spec = run.spec()
    spec.command = ["python3", "-c", "import time; time.sleep(%d)" % seconds]
    return spec


def _wait_running(ex):
    deadline = time.time() + HANG_S
    while True:
        st = slurm.query([j for j, _ in ex.jobs])
        if st and all(s.state == "RUNNING" for s in st.values()):
            return
        if time.time() > deadline:
            raise AssertionError("the job did not start within %d s (DLBENCH_TEST_TIMEOUT): %s"
                                 % (HANG_S, {j: s.state for j, s in st.items()}))
        time.sleep(1)


def _containers(name):
    import docker
    # sparse: no inspect of each (one removed meanwhile would raise NotFound)
    return docker.from_env().containers.list(all=True, sparse=True, filters={"name": name})


def test_a_job_cancelled_with_scancel_leaves_a_failed_result(cluster, built_image, tmp_path):
    lines = []
    ex = slurm.Executor(slurm.SlurmOptions(exclusive=False, poll=1), str(tmp_path / "b"),
                        say_into(lines))
    spec = _sleeping_spec(built_image, tmp_path, "rnn")
    ex.add(spec)
    _wait_running(ex)
    deadline = time.time() + HANG_S
    while not _containers(spec.name):  # wait until the node has started the container
        assert time.time() < deadline, "no container %s within %d s (DLBENCH_TEST_TIMEOUT)" \
            % (spec.name, HANG_S)
        time.sleep(1)
    subprocess.run(["scancel", ex.jobs[0][0]], check=True)
    got = ex.finish()[0]
    print("scancel'd run: %s" % got["reason"])
    assert got["status"] == "failed"
    assert "SLURM job %s CANCELLED" % ex.jobs[0][0] in got["reason"], got["reason"]
    assert "terminated (SIGTERM)" in got["reason"]  # the node stopped its container itself
    assert results.validate(got) == [] and results.read_collected(spec.result_path) == got
    assert _containers(spec.name) == []
    assert any("running on %s" % cluster["node"] in line for line in lines), lines


def test_a_node_refuses_an_image_that_is_not_the_runs(pushed, built_image, registry, tmp_path):
    """The run names pytorch-2.13's image id, but its reference is another image's digest (a
    registry that serves something else under the name): the node pulls it, refuses it in one
    line and leaves a failed result."""
    import docker
    client = docker.from_env()
    other = client.images.get("debian:bookworm-slim")
    repo = "%s/dlbench-test/other" % registry
    other.tag(repo, "latest")
    digest = None
    for line in client.images.push(repo, tag="latest", stream=True, decode=True):
        assert not line.get("error"), line
        digest = (line.get("aux") or {}).get("Digest") or digest
    spec = _sleeping_spec(built_image, tmp_path, "cnn")
    spec.image_ref = "%s@%s" % (repo, digest)
    os.makedirs(spec.dir)
    runfile = os.path.join(spec.dir, runspec.FILENAME)
    spec.write(runfile)
    out = subprocess.run([sys.executable, "-m", "harness.launch.slurm_node", runfile], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=HANG_S)
    assert out.returncode == 1
    errors = out.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: digest mismatch: %s is image %s"
                                                     % (spec.image_ref, other.id[:19]))
    r = results.read_collected(spec.result_path)
    assert r["status"] == "failed" and r["reason"].startswith("digest mismatch")
    assert _containers(spec.name) == []


def test_detach_returns_at_once_and_results_collects_later(cluster, built_image, tmp_path):
    out_dir = str(tmp_path / "results")
    out = cli("bench", IMAGE, "--on", "slurm", "--detach", "--share-nodes", "--synthetic",
              "-t", "cnn", "--epochs", "1", "--limit", "64", "--results-dir", out_dir)
    assert out.returncode == 0, out.stdout
    run_id = out.stdout.strip().splitlines()[-1].split()[2].rstrip(":")
    jobs_file = os.path.join(out_dir, run_id, slurm.JOBS_FILE)
    assert os.path.isfile(jobs_file)
    # returned at once: its job has not ended (the node has yet to start a container and train;
    # a check by job state, not by a wall-clock bound a loaded machine could exceed)
    (job,) = [str(j["job_id"]) for j in json.load(open(jobs_file))["jobs"]]
    st = slurm.query([job]).get(job)
    assert st is not None and not st.ended, vars(st) if st else "job %s unknown" % job
    deadline = time.time() + HANG_S
    while True:
        table = cli("results", "--results-dir", out_dir)
        if table.stdout.count(IMAGE) == 1 and "ok" in table.stdout or time.time() > deadline:
            break
        time.sleep(3)
    found = found_results(out_dir)
    assert [r["status"] for r in found] == ["ok"], table.stdout
    assert found[0]["provenance"]["run_id"] == run_id


def test_kubernetes_manifests_of_a_real_bench_validate(pushed, built_image, tmp_path):
    kubernetes_validate = pytest.importorskip("kubernetes_validate") if not in_ci() \
        else __import__("kubernetes_validate")
    out_dir = str(tmp_path / "results")
    out = cli("bench", IMAGE, "--on", "kubernetes", "--dry-run", "--registry", REGISTRY,
              "--synthetic", "--results-dir", out_dir)
    assert out.returncode == 0, out.stdout
    (path,) = glob.glob(os.path.join(out_dir, "*", "kubernetes-jobs.jsonl"))
    docs = [json.loads(line) for line in open(path)]
    assert [d["kind"] for d in docs] == ["Job"] * 3 + ["NetworkPolicy"]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33", strict=True)
    assert docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] == pushed


def test_a_job_past_its_time_limit_leaves_a_failed_result(timed):
    """Last in this file: the job `timed` submitted first has been running meanwhile."""
    ex, lines = timed
    got = ex.finish()[0]
    print("run past its time limit: %s" % got["reason"])
    assert got["status"] == "failed"
    assert "TIMEOUT" in got["reason"] and "past its SLURM time limit (--time-limit 1)" \
        in got["reason"], got["reason"]
    assert results.validate(got) == []
    assert _containers(ex.jobs[0][1].name) == []
