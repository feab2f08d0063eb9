"""The hardening of harness/containers/hardening.py on the real engine: a bench run's container, inspected
while it runs and probed from inside; the pids limit stopping a thread bomb; a chatty run's
output saved whole under the log bound; pip freeze in a hardened container. Every image's tasks
under these settings: tests/engine/test_engine_frameworks.py. Needs an engine."""
import json

import pytest

from helpers import HANG_S, IMAGE
from harness.core import catalog
from harness.containers import containers, hardening
from harness.runs import provenance
from harness.launch import bench

pytestmark = [pytest.mark.engine]

PROBE = r'''
import json, os, sys
out = {"uid": os.getuid(), "gid": os.getgid(), "home": os.environ.get("HOME"),
       "cache": os.environ.get("XDG_CACHE_HOME"), "tmpdir": os.environ.get("TMPDIR")}
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
out["cap_eff"] = int(status["CapEff"].strip(), 16)
out["no_new_privs"] = status["NoNewPrivs"].strip()
def writable(d):
    try:
        open(os.path.join(d, "probe"), "w").close()
        os.remove(os.path.join(d, "probe"))
        return True
    except OSError:
        return False
for d in ("/", "/opt/venv", "/etc", "/tmp", "/tasks", "/data", "/results"):
    out[d] = writable(d)
out["mounts"] = {l.split()[1]: l.split()[2] + " " + l.split()[3]
                 for l in open("/proc/mounts") if l.split()[1] in ("/", "/tmp")}
# network interfaces the container has (no traffic sent anywhere): only loopback without one
out["net"] = sorted(os.listdir("/sys/class/net"))
print(json.dumps(out), flush=True)
import time; time.sleep(%d)
''' % HANG_S


def first_line(container):
    """The container's first line of output (the probe then sleeps)."""
    buf = b""
    for chunk in container.logs(stream=True, follow=True):
        buf += chunk
        if b"\n" in buf:
            return buf.split(b"\n")[0].decode()
    raise AssertionError("the probe ended without a line: %r" % buf)


def test_running_bench_container_is_hardened(built_image, engine, tmp_path, data_dir):
    image = catalog.lookup([IMAGE])[0]
    opts = bench.BenchOptions(synthetic=True, data_dir=data_dir, results_root=str(tmp_path))
    run = bench.Run(image, engine.images.get(built_image.image_id), "cnn", "reference", 1,
                    "cpu", opts, {})
    args = run.container_args()
    args["command"] = ["python3", "-c", PROBE]
    c = engine.containers.run(**args)
    try:
        got = json.loads(first_line(c))
        c.reload()
        assert c.status == "running"
        attrs = c.attrs
    finally:
        c.remove(force=True)
    host = attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == hardening.pids_limit() and host["PidsLimit"] > 0
    assert host["ReadonlyRootfs"] is True
    assert "/tmp" in host["Tmpfs"] and "size=2g" in host["Tmpfs"]["/tmp"]
    assert host["LogConfig"] == {"Type": "json-file",
                                 "Config": {"max-size": "100m", "max-file": "2"}}
    assert host["NetworkMode"] == "none"
    assert host["Privileged"] is False
    user = attrs["Config"]["User"]
    assert user and user.split(":")[0] not in ("0", "root")
    mounts = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
    # the host's RAPL counters, where it has them: read-only too
    assert mounts.pop(bench.POWERCAP_MOUNT, False) is False
    assert bool(bench.powercap_dir()) == (bench.POWERCAP_MOUNT in
                                          {m["Destination"] for m in attrs["Mounts"]})
    assert mounts == {"/tasks": False, "/data": False, "/results": True}
    # from inside
    assert (got["uid"], got["gid"]) == hardening.run_ids() and got["uid"] != 0
    assert got["cap_eff"] == 0 and got["no_new_privs"] == "1"
    assert got["/"] is False and got["/opt/venv"] is False and got["/etc"] is False
    assert got["/tmp"] is True and got["mounts"]["/tmp"].startswith("tmpfs rw")
    assert got["mounts"]["/"].split()[1].startswith("ro")
    assert got["/tasks"] is False and got["/data"] is False and got["/results"] is True
    assert got["home"] == "/tmp" and got["cache"].startswith("/tmp/") and got["tmpdir"] == "/tmp"
    assert got["net"] == ["lo"], got["net"]  # network_mode none: loopback only


def test_pids_limit_stops_a_thread_bomb(built_image, engine):
    bomb = ("import threading, time\nn = 0\ntry:\n    while True:\n"
            "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
            "        n += 1\nexcept RuntimeError:\n    pass\nprint(n, flush=True)\n"
            "import os; os._exit(0)\n")
    args = hardening.settings()
    out = engine.containers.run(built_image.image_id, ["python3", "-c", bomb], remove=True,
                                **args).decode()
    threads = int(out.split()[0])
    assert args["pids_limit"] - 10 <= threads < args["pids_limit"], out  # by the limit


def test_chatty_run_saves_everything_it_printed(built_image, engine, tmp_path):
    """10 MB in a burst, as fast as Python prints: the saved log has every line once. (Under
    hardening.LOG_MAX_SIZE of Docker's JSON log nothing rotates; past it, see hardening.py.)"""
    lines = 100000
    prog = ("import sys\nw = sys.stdout.write\nfor i in range(%d):\n"
            "    w('%%09d %%s\\n' %% (i, 'x' * 89))\n" % lines)
    c = engine.containers.run(built_image.image_id, ["python3", "-c", prog], detach=True,
                              **hardening.settings())
    try:
        follower = containers.LogFollower(c, str(tmp_path / "container.log"),
                                          str(tmp_path / "events.jsonl"), lambda ev: None)
        follower.start()
        assert c.wait(timeout=HANG_S)["StatusCode"] == 0
        follower.join(HANG_S)
    finally:
        c.remove(force=True)
    saved = (tmp_path / "container.log").read_bytes().splitlines()
    assert len(saved) == lines
    assert [int(s[:9]) for s in saved] == list(range(lines))


def test_pip_freeze_runs_hardened(built_image, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no cached freeze
    lines = provenance.pip_freeze(built_image.image_id)
    assert not lines[0].startswith("#"), lines[0]
    assert any(line.startswith("torch==2.13.0") for line in lines)
