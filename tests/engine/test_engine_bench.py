"""End to end on the real Docker engine: build (or reuse) dlbench/pytorch-2.13 through the
harness, run its tasks in containers, check what comes back. Needs an engine (CI starts one)."""
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from helpers import HANG_S, IMAGE, ROOT
from harness.images import build
from harness.core import catalog
from harness.containers import containers, engine, hardening
from harness.results import results
from harness.launch import bench
from harness.cli import main

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def run_bench(tmp_path, *argv):
    out = tmp_path / "results"
    # a hang ends at the suite's limit (a later --timeout in argv wins)
    res = CliRunner().invoke(main, ["bench", IMAGE, "--results-dir", str(out),
                                    "--timeout", str(HANG_S)] + list(argv))
    found = [results.read_upgraded(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    return res, found, out


def leftover_containers(client, run_id):
    """Containers of this run still there (other runs may share the engine). Sparse: the
    engine's list as it is, not a second request per container, which fails with NotFound when
    the bench removes the container in between (seen while polling a starting run)."""
    return client.containers.list(all=True, sparse=True,
                                  filters={"label": "org.dlbench.run=%s" % run_id})


def test_second_build_reuses_the_image(built_image):
    """Reused: nothing built (by the build's own account, not by a wall-clock bound that a
    loaded machine could exceed while hashing the build context)."""
    image = catalog.lookup([IMAGE])[0]
    told = []
    again = build.ensure_built(image, echo=lambda text, **k: told.append(text))
    assert not again.built and again.image_id == built_image.image_id
    assert not [t for t in told if t.startswith(("building ", "built "))], told


def test_all_three_tasks_on_synthetic_data(built_image, engine, tmp_path):
    res, found, out = run_bench(tmp_path, "--synthetic", "--epochs", "1", "--limit", "64")
    assert res.exit_code == 0, res.output
    assert sorted(r["task"] for r in found) == ["cnn", "inference", "rnn"]
    with open(os.path.join(ROOT, "images", IMAGE, "Dockerfile"), "rb") as f:
        dockerfile_sha = hashlib.sha256(f.read()).hexdigest()
    for r in found:
        assert results.validate(r) == [], r["task"]
        assert r["status"] == "ok" and r["exit_code"] == 0
        assert r["data"]["source"] == "synthetic"
        assert r["device"] == "cpu"
        p = r["provenance"]
        assert p["image"] == IMAGE and p["image_id"] == built_image.image_id
        assert p["dockerfile_sha256"] == dockerfile_sha
        assert any(line.startswith("torch==2.13.0") for line in p["pip_freeze"])
        assert p["docker_version"] == engine.version()["Version"]
        assert p["host"] and p["repeat"] == 1 and p["host_wall_seconds"] > 0
        assert p["contention"]["cpus"] >= 1 and "flagged" in p["contention"]
        # no --memory: the host's memory less 1 GiB, recorded
        assert p["memory_limit"] == {"limit": bench.default_memory(),
                                     "source": "default: the host's memory less 1 GiB"}
    inference = [r for r in found if r["task"] == "inference"][0]
    assert inference["metrics"]["features"] == 2048
    # FLOPs, the peak probe (torch's paths, in the container), MFU, energy (schema-valid above)
    for r in found:
        assert r["flops"]["forward_per_example"] > 0
        peak = r["peak"]
        # torch.mm (MKL) first, then oneDNN's inner product (its convolutions' library); the
        # peak is the faster
        paths = [c["method"] for c in peak["candidates"]]
        assert paths[0] == "torch.mm on the CPU" and paths[1].startswith("oneDNN inner product")
        assert peak["gflops"] == max(c["gflops"] for c in peak["candidates"]) > 0
        assert peak["method"] in paths
        assert peak["threads"] == r["env"]["threads"]
        if r["task"] == "cnn":  # the bench's first run of the image and variant probes ...
            assert 0 < peak["seconds"] < 30 and "reused" not in peak
        elif "peak" in r.get("checks", {}):  # the run beat the handed-on peak: probed again
            assert r["checks"]["peak"]["first_reused"] is True
        else:  # ... the later ones reuse its record (tasks/run.py PEAK_ENV), saying so
            first = [f for f in found if f["task"] == "cnn"][0]["peak"]
            assert peak["seconds"] == 0 and peak["gflops"] == first["gflops"]
            assert peak["reused"]["from"].endswith(os.path.join(IMAGE, "cnn-r1"))
            assert peak["reused"]["probe_seconds"] == first["seconds"]
        m = r["mfu"]
        assert m["achieved_gflops"] > 0 and m["of_measured_peak"] > 0
        assert m["of_nominal_peak"] is None  # a CPU has no nominal peak here
        # energy: never zero for unknown; absent with a reason where RAPL is not readable
        if r["energy"] is None:
            assert r["energy_absent_reason"].startswith("RAPL not readable")
        else:
            assert r["energy"]["cpu_package"]["joules"] > 0
    cnn = [r for r in found if r["task"] == "cnn"][0]
    assert cnn["flops"]["train_per_example"] == 370821120
    assert inference["flops"]["structure"] == "torchvision"
    for folder in glob.glob(str(out / ("*/%s/*-r1" % IMAGE))):
        assert os.stat(os.path.join(folder, "result.json")).st_uid == os.getuid()
        events = [json.loads(l) for l in open(os.path.join(folder, "events.jsonl"))]
        assert events[0]["event"] == "start" and events[-1]["event"] == "end"
        assert os.path.getsize(os.path.join(folder, "container.log")) > 0
    assert leftover_containers(engine, found[0]["provenance"]["run_id"]) == []
    table = CliRunner().invoke(main, ["results", "--results-dir", str(out)])
    assert table.exit_code == 0 and table.output.count(IMAGE) == 3


def test_tuned_inference_compiles_with_inductor_in_the_hardened_container(built_image,
                                                                          tmp_path):
    """The image carries the C++ compiler and Python.h that torch.compile's inductor builds its
    CPU kernels with: the tuned ResNet-50 inference compiles as an unnamed uid on a read-only
    root, its cache on the tmpfs. (One batch size: each other size compiles again, 20-30 s on 2
    CPUs; the host's test_tasks_pytorch checks a second size's features.)"""
    res, found, out = run_bench(tmp_path, "--synthetic", "--task", "inference", "--variant",
                                "tuned", "--limit", "32")
    assert res.exit_code == 0, res.output
    (r,) = found
    assert r["status"] == "ok", r.get("reason")
    graph = r["env"]["adapter_settings"]["inference_graph"]
    assert graph.startswith("torch.compile: inductor, freezing"), graph
    assert r["env"]["adapter_settings"]["memory_format"] == "channels_last"
    assert r["metrics"]["features"] == 2048 and r["timings"]["images_per_second"] > 0


def test_real_format_data_and_repeats(built_image, data_dir, tmp_path):
    res, found, _ = run_bench(tmp_path, "--task", "cnn", "--task", "rnn", "--data-dir", data_dir,
                              "--epochs", "1", "--repeat", "2")
    assert res.exit_code == 0, res.output
    assert sorted((r["task"], r["provenance"]["repeat"]) for r in found) == [
        ("cnn", 1), ("cnn", 2), ("rnn", 1), ("rnn", 2)]
    for r in found:
        assert r["status"] == "ok" and r["data"]["source"] == "real"
        assert results.validate(r) == []


def test_container_is_offline_and_mounts_are_read_only(built_image, engine, tmp_path,
                                                       data_dir):
    image = catalog.lookup([IMAGE])[0]
    opts = bench.BenchOptions(synthetic=True, data_dir=data_dir, results_root=str(tmp_path))
    run = bench.Run(image, engine.images.get(built_image.image_id), "cnn", "reference", 1,
                    "cpu", opts, {})
    os.makedirs(run.dir)
    args = run.container_args()
    args.update(detach=False, remove=True, command=["python3", "-c", PROBE])
    got = json.loads(engine.containers.run(**args).decode())
    assert got["uid"] == hardening.run_ids()[0]  # the caller, or nobody for root
    assert got["/tasks"] is False and got["/data"] is False and got["/results"] is True
    assert got["net"] == ["lo"], got["net"]  # network_mode none: loopback only


PROBE = r'''
import json, os
out = {"uid": os.getuid()}
for d in ("/tasks", "/data", "/results"):
    try:
        open(os.path.join(d, "probe"), "w").close(); out[d] = True
    except OSError:
        out[d] = False
# network interfaces the container has (no traffic sent anywhere): only loopback without one
out["net"] = sorted(os.listdir("/sys/class/net"))
print(json.dumps(out))
'''


def test_killed_container_yields_failed_result(built_image, engine, tmp_path):
    res, found, _ = run_bench(tmp_path, "--synthetic", "--task", "cnn", "--task", "rnn",
                              "--memory", "40m")
    assert res.exit_code == 1
    assert len(found) == 1  # stops at the first failure without --keep-going
    r = found[0]
    assert results.validate(r) == []
    assert r["status"] == "failed" and r["exit_code"] == 137
    assert "out of memory" in r["reason"]
    assert leftover_containers(engine, r["provenance"]["run_id"]) == []


def test_keep_going_runs_the_rest(built_image, tmp_path):
    res, found, _ = run_bench(tmp_path, "--synthetic", "--task", "cnn", "--task", "rnn",
                              "--memory", "40m", "--keep-going")
    assert res.exit_code == 1
    assert [r["status"] for r in found] == ["failed", "failed"]


def test_task_error_inside_the_container(built_image, tmp_path):
    bad = tmp_path / "bad-data"
    bad.mkdir()
    (bad / "cifar-10-python.tar.gz").write_bytes(b"not a tarball")
    res, found, _ = run_bench(tmp_path, "--task", "cnn", "--data-dir", str(bad), "--epochs", "1")
    assert res.exit_code == 1
    r = found[0]
    assert r["status"] == "failed" and r["exit_code"] == 1 and r["reason"]
    assert r["data"]["source"] == "real" and results.validate(r) == []


def test_timeout_kills_and_removes_the_container(built_image, engine, tmp_path):
    t0 = time.time()
    res, found, _ = run_bench(tmp_path, "--synthetic", "--task", "cnn", "--timeout", "4")
    assert res.exit_code == 1
    # killed, not run to its end: the full CNN (10 epochs of 50,000 images) takes hours here
    assert time.time() - t0 < HANG_S
    r = found[0]
    assert r["status"] == "failed" and "timed out after 4 s" in r["reason"]
    assert results.validate(r) == []
    assert leftover_containers(engine, r["provenance"]["run_id"]) == []


def as_a_terminal_job():
    """The child starts with the stop signals at their default action, as a shell's foreground
    job does. A test runner started in the background by a non-interactive shell (as a CI
    script may be) has SIGINT ignored, and its children inherit that: Python then installs no
    KeyboardInterrupt handler and dlbench keeps an ignored SIGINT ignored (harness/containers/signals.py),
    so a SIGINT sent to it would be lost by design, not by the harness."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def start_bench(out, *argv):
    return subprocess.Popen([sys.executable, "-m", "harness.cli", "bench", IMAGE, "--synthetic",
                             "--task", "cnn", "--results-dir", str(out)] + list(argv), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=as_a_terminal_job)


def wait_for_running_container(engine, out, proc, deadline_s=HANG_S):
    """The run id once its container runs (polled: builds and starts are slow on a loaded
    engine); fails when the bench ends first or nothing runs before the deadline."""
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        for run in glob.glob(str(out / "*" / IMAGE)):
            run_id = os.path.basename(os.path.dirname(run))
            if [c for c in leftover_containers(engine, run_id) if c.status == "running"]:
                return run_id
        if proc.poll() is not None:
            pytest.fail("bench ended before its container ran:\n" + proc.stdout.read())
        time.sleep(0.2)
    pytest.fail("no running container within %d s" % deadline_s)


def stop_with(proc, sig, engine, run_id, deadline_s=HANG_S):
    """Send sig; its output once it exited (DLBENCH_TEST_TIMEOUT: CI engines are loaded). A
    bench that does not stop is killed and its containers removed, then the test fails."""
    proc.send_signal(sig)
    try:
        output, _ = proc.communicate(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        for c in leftover_containers(engine, run_id):
            c.remove(force=True)
        pytest.fail("bench did not stop within %d s of %s:\n%s"
                    % (deadline_s, signal.Signals(sig).name, output))
    return output


@pytest.mark.parametrize("sig,status,reason", [
    (signal.SIGINT, 130, "interrupted (Ctrl-C)"),
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    (signal.SIGHUP, 129, "terminated (SIGHUP)"),
], ids=["ctrl_c", "sigterm", "sighup"])
def test_stop_signal_stops_and_removes_the_container(built_image, engine, tmp_path, sig,
                                                     status, reason):
    """Sent as soon as the container runs (no fixed sleep: the signal may come at any moment)."""
    out = tmp_path / "results"
    proc = start_bench(out)
    try:
        run_id = wait_for_running_container(engine, out, proc)
        output = stop_with(proc, sig, engine, run_id)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, output
    assert "Traceback" not in output
    assert reason in output  # "terminated (SIGTERM): containers removed; results so far in"
    assert leftover_containers(engine, run_id) == []
    r = results.read_collected(str(out / run_id / IMAGE / "cnn-r1" / "result.json"))
    assert r["status"] == "failed" and r["reason"] == reason and r["exit_code"] == status


@pytest.mark.alone  # another worker's bench would sweep the orphan before `results` does
def test_a_killed_dlbench_leaves_no_orphan(built_image, engine, tmp_path):
    """SIGKILL cannot be handled: the container runs on. The next `dlbench results` (or bench)
    finds it by its labels (this host, a dead pid), removes it and writes the run's failed
    result."""
    out = tmp_path / "results"
    proc = start_bench(out)
    try:
        run_id = wait_for_running_container(engine, out, proc)
        proc.kill()
        proc.communicate(timeout=HANG_S)
        assert [c.status for c in leftover_containers(engine, run_id)] == ["running"]
        listed = subprocess.run([sys.executable, "-m", "harness.cli", "results",
                                 "--results-dir", str(out)], cwd=ROOT, capture_output=True,
                                text=True, timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "orphaned container dlbench-%s" % run_id in listed.stderr, listed.stderr
    assert leftover_containers(engine, run_id) == []
    r = results.read_collected(str(out / run_id / IMAGE / "cnn-r1" / "result.json"))
    assert r["status"] == "failed"
    assert r["reason"].startswith("host died: dlbench (pid %d) ended without collecting this "
                                  "run (container killed)" % proc.pid), r["reason"]
    assert r["exit_code"] == 137 and r["provenance"]["run_id"] == run_id
    row = [l for l in listed.stdout.splitlines() if l.startswith(run_id)][0]
    assert "failed" in row and "host died" in row


def test_a_container_that_cannot_start(built_image, engine, tmp_path):
    """The engine makes the container but cannot start it (no python3 on PATH): a failed result
    with the engine's words, and no container left in state Created."""
    res, found, _ = run_bench(tmp_path, "--synthetic", "--task", "cnn", "-e", "PATH=/nonexistent")
    assert res.exit_code == 1, res.output
    [r] = found
    assert r["status"] == "failed" and r["exit_code"] is None
    assert r["reason"].startswith("could not start the container: "), r["reason"]
    assert "executable file not found" in r["reason"], r["reason"]
    assert leftover_containers(engine, r["provenance"]["run_id"]) == []


def test_output_thread_leaves_ctrl_c_to_the_main_thread(built_image, engine, tmp_path):
    """The thread following a container's log blocks the stop signals, so the kernel delivers
    them to the main thread (blocked in the engine's wait call), which then stops the run at
    once. (Without it one could land on this thread and sit unhandled until the main thread's
    wait slice ends. The CI run that saw Ctrl-C ignored for over 60 s had another cause: its
    SIGINT was ignored from the start, see as_a_terminal_job.)"""
    container = engine.containers.run(built_image.image.tag, ["python3", "-c",
                                      "import time; print('up', flush=True); time.sleep(%d)"
                                                              % HANG_S], detach=True, network_mode="none")
    try:
        out = containers.LogFollower(container, str(tmp_path / "container.log"),
                                     str(tmp_path / "events.jsonl"), lambda ev: None)
        out.start()
        deadline = time.time() + HANG_S
        while time.time() < deadline and not out.last_lines:
            time.sleep(0.2)  # the thread is now inside the engine's log stream
        assert out.last_lines == ["up"]
        status = open("/proc/self/task/%d/status" % out.native_id).read()
        blocked = int([l for l in status.splitlines() if l.startswith("SigBlk:")][0].split()[1],
                      16)
        assert blocked & (1 << (signal.SIGINT - 1)), status
    finally:
        container.remove(force=True)
    out.join(HANG_S)
    assert not out.is_alive()


def test_gpu_without_gpu_runtime_is_one_line(built_image, tmp_path):
    if engine.has_gpu_runtime():
        pytest.skip("this host has a GPU runtime")
    res, found, _ = run_bench(tmp_path, "--synthetic", "--device", "gpu")
    assert res.exit_code == 1 and found == []
    assert "no NVIDIA GPU runtime" in res.output and "--device cpu" in res.output
