"""Several data-parallel replicas: how many devices a run sees, and the launcher for frameworks
whose replicas are processes (a framework module's DATA_PARALLEL = "processes", PyTorch's
DistributedDataParallel): run.py starts one copy of itself per replica, as torchrun would, with
DLBENCH_RANK / DLBENCH_WORLD and the rendezvous address (MASTER_ADDR, MASTER_PORT) in its
environment. Rank 0 writes the result and prints the progress events; any other rank writes its
result beside it (OUT.rankN, removed afterwards) so a failing rank's reason reaches the result.
Standard library only."""
from __future__ import absolute_import, division, print_function
import json
import os
import socket
import subprocess
import sys
import time

RANK, WORLD = "DLBENCH_RANK", "DLBENCH_WORLD"


def visible_gpus():
    """The NVIDIA GPUs this process may use, without importing a framework: the entries of
    CUDA_VISIBLE_DEVICES when it is set ("" hides them all), else the driver's
    /proc/driver/nvidia/gpus/ folders (none: 0)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return len([d for d in listed.split(",") if d.strip() and d.strip() != "-1"])
    folder = "/proc/driver/nvidia/gpus"
    return len(os.listdir(folder)) if os.path.isdir(folder) else 0


def rank():
    """This process's rank when run.py launched it as a replica, else None."""
    value = os.environ.get(RANK)
    return int(value) if value not in (None, "") else None


def rank_out(out, r):
    return out if r == 0 else "%s.rank%d" % (out, r)


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def launch(script, argv, world, out, grace=30.0):
    """Run `python script argv` once per rank and wait. When a rank fails, the others get
    `grace` seconds to finish (a rank blocked in a collective never will), then are killed.
    Returns (exit codes by rank, {rank: reason} of the failed ranks that wrote a result)."""
    env = dict(os.environ)
    env.update({WORLD: str(world), "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(_free_port())})
    # every replica is on this machine: gloo talks over the loopback interface (a container
    # without a network may not resolve its own hostname, gloo's default way to pick one)
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    procs = []
    for r in range(world):
        env_r = dict(env)
        env_r[RANK] = str(r)
        # rank 0 speaks for the run; the others' progress events would repeat it
        procs.append(subprocess.Popen([sys.executable, script] + list(argv), env=env_r,
                                      stdout=None if r == 0 else open(os.devnull, "w")))
    failed_at = None
    try:
        while any(p.poll() is None for p in procs):
            if failed_at is None and any(p.poll() not in (None, 0) for p in procs):
                failed_at = time.time()
            if failed_at is not None and time.time() - failed_at > grace:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.2)
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait()
        raise
    codes = [p.wait() for p in procs]
    reasons = {}
    for r in range(1, world):
        path = rank_out(out, r)
        if os.path.exists(path):
            try:
                with open(path) as f:
                    written = json.load(f)
                if written.get("status") != "ok":
                    reasons[r] = written.get("reason")
            except ValueError:
                pass
            os.remove(path)
    return codes, reasons
