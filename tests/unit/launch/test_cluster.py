"""Cluster runs, host side (no SLURM, no registry needed): the registry options and the digest
check, the SLURM job script and sbatch arguments, SLURM's end states turned into results, the
Kubernetes manifests validated against the Kubernetes API's JSON schemas (kubernetes-validate),
and the command line's refusals. The real cluster: tests/engine/test_engine_cluster.py."""
import json
import os
import subprocess
import sys

import pytest

from helpers import HANG_S
from helpers.fakes import stand_in_run
from harness.images import push
from harness.launch import kube, slurm
from harness.results import results
from harness.runs import runspec
from harness.core.errors import HarnessError

from helpers import ROOT
DIGEST = "sha256:" + "cd" * 32


# ------------------------------------------------------------------------------ registry

@pytest.mark.parametrize("good", ["localhost:5000", "registry.example.org", "10.0.0.7:443"])
def test_registry_host_and_port_are_accepted(good):
    assert push.check_registry(good) == good


@pytest.mark.parametrize("bad", ["http://localhost:5000", "localhost:5000/x", "", "a b",
                                 "host:99999999", "LOCALHOST", "x..y:5000", "localhost:0",
                                 "localhost:99999", "registry", "-a.org", "a-.org:5000"])
def test_a_registry_that_is_no_host_is_refused_in_one_line(bad):
    with pytest.raises(HarnessError) as e:
        push.check_registry(bad)
    assert "\n" not in e.value.message and "HOST:PORT" in e.value.message


def test_only_a_reference_by_digest_is_pulled():
    assert push.is_digest_ref("localhost:5000/dlbench/pytorch-2.13@" + DIGEST)
    assert not push.is_digest_ref("localhost:5000/dlbench/pytorch-2.13:latest")
    with pytest.raises(HarnessError, match="not by digest"):
        push.pull_checked("localhost:5000/dlbench/pytorch-2.13:latest", "sha256:x",
                          client=object())


def test_another_image_behind_the_digest_is_refused_in_one_line():
    ref = "localhost:5000/dlbench/pytorch-2.13@" + DIGEST
    push.check_pulled(ref, "sha256:" + "ab" * 32, "sha256:" + "ab" * 32)
    with pytest.raises(HarnessError) as e:
        push.check_pulled(ref, "sha256:" + "ee" * 32, "sha256:" + "ab" * 32)
    msg = e.value.message
    assert msg.startswith("digest mismatch") and "\n" not in msg
    assert "sha256:eeee" in msg and "sha256:abab" in msg and "dlbench push" in msg


def test_pushed_ref_finds_the_registry_digest_or_asks_for_the_push(tmp_path):
    import types
    from harness.core import catalog
    image = catalog.lookup(["pytorch-2.13"])[0]
    repo = "localhost:5000/dlbench/pytorch-2.13"
    obj = types.SimpleNamespace(id="sha256:" + "ab" * 32,
                                attrs={"RepoDigests": ["other:5000/dlbench/pytorch-2.13@x",
                                                       repo + "@" + DIGEST]})
    assert push.pushed_ref(image, obj, "localhost:5000") == repo + "@" + DIGEST
    with pytest.raises(HarnessError, match="dlbench push pytorch-2.13 --registry elsewhere:1"):
        push.pushed_ref(image, obj, "elsewhere:1")


# ------------------------------------------------------------------------------ SLURM

@pytest.mark.parametrize("good", ["30", "1:00", "2:00:00", "1-12", "1-12:30", "1-12:30:00"])
def test_slurm_time_limits(good):
    assert slurm.check_time_limit(good) == good


@pytest.mark.parametrize("bad", ["1h", "ten", "1:2:3:4", "-5", "0", "0:00", "0-0",
                                 "9" * 20, "366-0", "525601"])
def test_a_bad_time_limit_is_refused(bad):
    """0 is no limit at all to SLURM; 20 digits and more than a year are no benchmark's."""
    with pytest.raises(HarnessError, match="SLURM time"):
        slurm.check_time_limit(bad)


@pytest.mark.parametrize("value,seconds", [("30", 1800), ("1:30", 90), ("2:00:00", 7200),
                                           ("1-12", 129600), ("1-0:01:02", 86462)])
def test_time_limit_seconds(value, seconds):
    assert slurm.time_limit_seconds(value) == seconds


@pytest.mark.parametrize("option,value", [("account", "lab\nrm -rf"), ("account", "a b"),
                                          ("partition", "gpu;x"), ("partition", "")])
def test_a_slurm_name_with_a_newline_or_space_is_refused(option, value):
    with pytest.raises(HarnessError, match="a SLURM name is letters"):
        slurm.SlurmOptions(**{option: value})


def test_the_job_runs_the_spec_with_this_checkout_on_its_node(tmp_path):
    spec = stand_in_run(tmp_path).spec()
    sopts = slurm.SlurmOptions(partition="gpu", gpus_per_run=2, time_limit="10:00", account="lab",
                               python="/usr/bin/python3")
    script = slurm.job_script(spec, "/shared/r/run.json", sopts.python)
    assert "exec '/usr/bin/python3' -m harness.launch.slurm_node '/shared/r/run.json'" in script
    assert "PYTHONPATH='%s'" % ROOT in script
    cmd = slurm.sbatch_command(spec, "/shared/r/job.sh", sopts)
    assert cmd[:2] == ["sbatch", "--parsable"] and cmd[-1] == "/shared/r/job.sh"
    flat = " ".join(cmd)
    for part in ("--partition gpu", "--account lab", "--time 10:00", "--gpus-per-node 2",
                 "--exclusive", "--output %s" % os.path.join(spec.dir, "slurm.out")):
        assert part in flat
    shared = slurm.sbatch_command(spec, "j.sh", slurm.SlurmOptions(exclusive=False))
    assert "--exclusive" not in shared and "--partition" not in shared


def _node_result(run, status, reason):
    """What harness/launch/slurm_node.py leaves: a collected result (with provenance)."""
    doc = results.failed_result(run.task, run.adapter, run.variant, run.device, run.source,
                                reason, 143, image=run.image.name)
    doc["status"] = status
    results.add_provenance(doc, dict(run.prov, host="node1", run_id=run.opts.run_id))
    os.makedirs(run.dir, exist_ok=True)
    results.write(doc, run.result_path)


def test_a_job_past_its_time_limit_gets_slurms_reason_over_the_nodes(tmp_path):
    run = stand_in_run(tmp_path)
    _node_result(run, "failed", "terminated (SIGTERM)")
    st = slurm.JobState("17", "TIMEOUT", "node1")
    doc = slurm.finalize(run.spec(), st, slurm.SlurmOptions(time_limit="1"))
    assert doc["status"] == "failed"
    assert doc["reason"].startswith("SLURM job 17 TIMEOUT on node1: past its SLURM time limit "
                                    "(--time-limit 1)")
    assert "the node said: terminated (SIGTERM)" in doc["reason"]
    assert results.read_upgraded(run.result_path)["reason"] == doc["reason"]
    assert results.validate(doc) == []


def test_a_cancelled_job_without_a_result_gets_a_failed_one(tmp_path):
    run = stand_in_run(tmp_path)
    st = slurm.JobState("18", "CANCELLED", "node2", exit_code="0:15")
    doc = slurm.finalize(run.spec(), st, slurm.SlurmOptions(partition="debug"))
    assert doc["status"] == "failed" and "cancelled (scancel)" in doc["reason"]
    assert doc["exit_code"] == 143
    assert doc["provenance"]["slurm"] == {"job_id": "18", "node": "node2", "partition": "debug"}
    assert doc["provenance"]["image"] == "pytorch-2.13"
    assert results.validate(doc) == []
    assert results.read_upgraded(run.result_path) == doc


def test_the_nodes_own_verdict_stands_when_the_job_ran_to_its_end(tmp_path):
    run = stand_in_run(tmp_path)
    _node_result(run, "ok", None)
    assert slurm.finalize(run.spec(), slurm.JobState("19", "COMPLETED", "n"))["status"] == "ok"
    _node_result(run, "failed", "digest mismatch: ...")
    doc = slurm.finalize(run.spec(), slurm.JobState("19", "FAILED", "n"))
    assert doc["reason"] == "digest mismatch: ..."


def test_ctrl_c_on_the_host_is_the_reason_of_the_cancelled_runs(tmp_path):
    run = stand_in_run(tmp_path)
    _node_result(run, "ok", None)  # even an ok result: the host stopped the bench
    doc = slurm.finalize(run.spec(), slurm.JobState("20", "CANCELLED", "n"),
                         host_reason="interrupted (Ctrl-C) on the host: job cancelled")
    assert doc["status"] == "failed"
    assert doc["reason"].startswith("interrupted (Ctrl-C) on the host: job cancelled; SLURM "
                                    "job 20 CANCELLED")


def test_a_detached_bench_is_reconciled_later(tmp_path):
    """`dlbench results` writes the result of a job that ended (here: SLURM no longer knows it
    and there is no squeue: it says so and writes nothing)."""
    run = stand_in_run(tmp_path)
    spec = run.spec()
    os.makedirs(spec.dir)
    spec.write(os.path.join(spec.dir, runspec.FILENAME))
    root = os.path.join(run.opts.results_root, run.opts.run_id)
    slurm.save_jobs(root, [("21", spec)], slurm.SlurmOptions())
    lines = []
    saved = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path)  # no squeue
    try:
        slurm.reconcile(run.opts.results_root, lines.append)
    finally:
        os.environ["PATH"] = saved
    assert lines == ["%s: 1 run(s) without a result; no squeue here to ask SLURM" % run.opts.run_id]
    assert not os.path.exists(spec.result_path)


# ------------------------------------------------------------------------------ Kubernetes

kubernetes_validate = pytest.importorskip("kubernetes_validate") if not os.environ.get("CI") \
    else __import__("kubernetes_validate")
K8S_VERSIONS = ("1.29", "1.33")


def _manifests(tmp_path, gpus=0, **options):
    run = stand_in_run(tmp_path, **options)
    spec = run.spec()
    if gpus:
        spec.gpus = gpus
    path, docs = kube.write_manifests([spec], str(tmp_path / "out"))
    return spec, path, docs


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_manifests_validate_against_the_kubernetes_api(tmp_path, version):
    _, _, docs = _manifests(tmp_path, gpus=2, memory="3g", env={"OMP_NUM_THREADS": "2"})
    assert [d["kind"] for d in docs] == ["Job", "NetworkPolicy"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_catches_a_broken_manifest(tmp_path):
    """The check can fail: a misspelt field and a wrong type are refused."""
    _, _, docs = _manifests(tmp_path)
    job = json.loads(json.dumps(docs[0]))
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRoot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSIONS[-1], strict=True)
    job = json.loads(json.dumps(docs[0]))
    job["spec"]["backoffLimit"] = "none"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSIONS[-1], strict=True)


def test_the_job_has_the_local_hardening(tmp_path):
    spec, _, docs = _manifests(tmp_path, gpus=1, memory="2g")
    pod = docs[0]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"] is True
    assert c["resources"]["limits"] == {"memory": "2048Mi", "nvidia.com/gpu": "1"}
    assert c["command"] == spec.command and c["image"] == spec.image_id
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/tasks"]["readOnly"] is True and mounts["/results"]["readOnly"] is False
    assert mounts["/tmp"]["name"] == "scratch"
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["scratch"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "2048Mi"}
    assert pod["restartPolicy"] == "Never" and docs[0]["spec"]["backoffLimit"] == 0
    assert docs[0]["spec"]["activeDeadlineSeconds"] == spec.timeout
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["HOME"] == "/tmp"
    policy = docs[1]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"] and policy["egress"] == []
    assert policy["podSelector"]["matchLabels"].items() <= \
        docs[0]["spec"]["template"]["metadata"]["labels"].items()


def test_the_yaml_file_holds_the_same_documents(tmp_path):
    yaml = pytest.importorskip("yaml")
    _, path, docs = _manifests(tmp_path, gpus=1, env={"A": "x: y #z", "B": "'\"\n"})
    with open(path) as f:
        assert list(yaml.safe_load_all(f)) == docs
    with open(os.path.join(os.path.dirname(path), "kubernetes-jobs.jsonl")) as f:
        assert [json.loads(line) for line in f] == docs


# ------------------------------------------------------------------------------ command line

def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness.cli"] + list(args), cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=HANG_S)


@pytest.mark.parametrize("args,says", [
    (["--partition", "p"], "--partition: only with --on slurm"),
    (["--on", "kubernetes", "--detach"], "--detach: only with --on slurm"),
    (["--dry-run"], "--dry-run: only with --on kubernetes"),
    (["--namespace", "team-a"], "--namespace: only with --on kubernetes"),
    (["--registry", "localhost:5000"], "--registry are for --on slurm"),
    (["--on", "slurm", "--registry", "http://x"], "give HOST or HOST:PORT"),
    (["--on", "slurm", "--time-limit", "1h"], "give a SLURM time"),
    (["--on", "slurm", "--time-limit", "0"], "give a SLURM time"),
    (["--on", "slurm", "--account", "a\nb"], "a SLURM name is letters"),
    (["--on", "slurm", "--device", "cpu", "--gpus-per-run", "2"], "--device cpu for none"),
])
def test_cluster_options_are_checked_before_anything_runs(args, says):
    out = _cli("bench", "pytorch-2.13", *args)
    assert out.returncode in (1, 2), out.stderr
    assert says in out.stderr
    assert "Traceback" not in out.stderr


def test_kubernetes_without_dry_run_says_what_to_do(tmp_path):
    out = _cli("bench", "pytorch-2.13", "--on", "kubernetes", "--synthetic", "--results-dir",
               str(tmp_path))
    assert out.returncode == 1 and "add --dry-run" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_two_variants_of_one_task_get_two_jobs(tmp_path):
    """`--variant all --on kubernetes`: each run is its own Job (the name follows the run's
    folder, <task>[-<variant>]-r<N>); applying the file loses none."""
    import types
    from harness.core import catalog
    from harness.launch import bench
    image = catalog.lookup(["pytorch-2.13"])[0]
    image_obj = types.SimpleNamespace(id="sha256:" + "ab" * 32, labels={})
    opts = bench.BenchOptions(synthetic=True, results_root=str(tmp_path / "results"),
                              data_dir=str(tmp_path / "data"), run_id="20260101-000000-abcd")
    specs = [bench.Run(image, image_obj, "cnn", variant, 1, "cpu", opts, {}).spec()
             for variant in ("reference", "tuned")]
    assert specs[0].name != specs[1].name
    _, docs = kube.write_manifests(specs, str(tmp_path / "out"))
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "Job"]
    assert len(names) == 2 and len(set(names)) == 2, names


def test_a_long_name_is_cut_to_a_label_that_stays_unique():
    a = "dlbench-20260101-000000-abcd-caffe2-torch1.8-densenet-synthetic-reference-r1"
    b = a[:-1] + "2"
    na, nb = kube.k8s_name(a), kube.k8s_name(b)
    assert na != nb and len(na) <= 63 and len(nb) <= 63
    assert kube.NAMESPACE.match(na) and kube.NAMESPACE.match(nb)  # DNS-1123 labels both
    assert kube.k8s_name("dlbench-short-r1") == "dlbench-short-r1"


@pytest.mark.parametrize("namespace", ["Default", "x" * 64, "../etc", "", "a\nb", "-a", "a-"])
def test_a_namespace_kubernetes_would_refuse_is_refused_in_one_line(namespace):
    out = _cli("bench", "pytorch-2.13", "--on", "kubernetes", "--dry-run", "--synthetic",
               "--namespace", namespace)
    assert out.returncode == 1, out.stderr
    assert "no Kubernetes namespace" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_failed_push_leaves_no_tag_behind():
    import types
    from harness.core import catalog
    calls = []
    local = types.SimpleNamespace(id="sha256:" + "ab" * 32,
                                  tag=lambda repo, tag: calls.append(("tag", repo, tag)))

    class Images(object):
        def get(self, ref):
            return local

        def push(self, repo, tag, stream, decode):
            return iter([{"error": "connection refused"}])

        def remove(self, ref, noprune=False):
            calls.append(("remove", ref))

    client = types.SimpleNamespace(images=Images())
    image = catalog.lookup(["pytorch-2.13"])[0]
    with pytest.raises(HarnessError) as e:
        push.push(image, "localhost:5999", lambda *a, **k: None, client=client)
    assert "cannot push pytorch-2.13 to localhost:5999" in e.value.message
    assert calls == [("tag", "localhost:5999/dlbench/pytorch-2.13", "latest"),
                     ("remove", "localhost:5999/dlbench/pytorch-2.13:latest")]


def test_reconcile_never_writes_where_a_file_points_outside_the_bench(tmp_path):
    """slurm-jobs.json and run.json are files anyone with write access to results/ can edit:
    a run description outside the bench's folder (or one naming a result folder elsewhere) is
    skipped with a line, and the file there is left as it was."""
    run = stand_in_run(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "result.json").write_text("not a result: precious\n")
    spec = run.spec()
    spec.dir = str(outside)
    spec.write(str(outside / runspec.FILENAME))
    inside = run.spec()  # a description in the bench's folder that names the outside folder
    os.makedirs(inside.dir)
    named = runspec.RunSpec.from_json(inside.to_json())
    named.dir = str(outside)
    named.write(os.path.join(inside.dir, runspec.FILENAME))
    root = os.path.join(run.opts.results_root, run.opts.run_id)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, slurm.JOBS_FILE), "w") as f:
        json.dump({"jobs": [{"job_id": "7", "runfile": str(outside / runspec.FILENAME)},
                            {"job_id": "8", "runfile": os.path.join(inside.dir,
                                                                    runspec.FILENAME)}]}, f)
    (tmp_path / "bin").mkdir()
    for tool in ("squeue", "sacct"):  # SLURM knows neither job: a failed result would be written
        path = tmp_path / "bin" / tool
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    lines = []
    saved = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path / "bin") + os.pathsep + saved
    try:
        slurm.reconcile(run.opts.results_root, lines.append)
    finally:
        os.environ["PATH"] = saved
    assert (outside / "result.json").read_text() == "not a result: precious\n"
    assert len(lines) == 2 and all("skipped" in line for line in lines), lines


def test_a_job_sbatch_refuses_leaves_a_failed_result_that_results_lists(tmp_path, monkeypatch):
    """sbatch's refusal (a bad account, partition, ...) ends the bench with its words, and the
    run's folder gets a failed result with them, as every run's does: `dlbench results` lists it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sbatch"
    fake.write_text("#!/bin/sh\necho 'sbatch: error: Invalid account or account/partition "
                    "combination specified' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    run = stand_in_run(tmp_path)
    spec = run.spec()
    with pytest.raises(HarnessError) as e:
        slurm.submit(spec, slurm.SlurmOptions(account="nope"))
    assert str(e.value) == ("sbatch refused %s: sbatch: error: Invalid account or "
                            "account/partition combination specified" % spec.label)
    doc = results.read_upgraded(spec.result_path)
    assert doc["status"] == "failed" and doc["reason"] == str(e.value)
    assert results.validate(doc) == []
    assert doc["provenance"]["slurm"]["job_id"] is None
    rows = results.table(spec.results_root)
    assert any("FAILED" in line.upper() and "sbatch refused" in line for line in rows), rows
