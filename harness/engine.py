"""The Docker engine, through the Docker SDK for Python: connecting (with one clear line when it
is down), what it is (version, GPU runtime), and the GPU driver of the host."""
import os
import shutil
import subprocess

from .errors import HarnessError

_client = None


def client():
    """A connected client (DOCKER_HOST and friends honoured); one per process."""
    global _client
    if _client is None:
        try:
            import docker
            c = docker.from_env(timeout=int(os.environ.get("DLBENCH_DOCKER_TIMEOUT", "300")))
            c.ping()
        except Exception as e:  # docker.errors.DockerException, requests errors, ...
            raise HarnessError(
                "cannot reach the Docker engine (%s): start it (e.g. `sudo systemctl start "
                "docker`, or `sudo dockerd &`) and check that you may use it (`docker info`)"
                % short_error(e))
        _client = c
    return _client


def short_error(e):
    """An exception as one line for an error message: its last line, 200 characters at most."""
    text = str(e).strip().splitlines()
    return (text[-1] if text else type(e).__name__)[:200]


_info = None


def info():
    global _info
    if _info is None:
        _info = client().info()
    return _info


def version():
    return info().get("ServerVersion")


def has_gpu_runtime():
    """True when containers can get NVIDIA GPUs: the engine knows the nvidia runtime or the
    host has the NVIDIA container toolkit hook installed."""
    runtimes = info().get("Runtimes") or {}
    if "nvidia" in runtimes:
        return True
    return bool(shutil.which("nvidia-container-runtime-hook")
                or shutil.which("nvidia-container-toolkit")
                or shutil.which("nvidia-container-cli"))


def host_gpu_driver():
    """The NVIDIA driver version of the host, or None when there is no GPU (or no nvidia-smi)."""
    try:
        with open("/proc/driver/nvidia/version") as f:
            first = f.readline()
        for word in first.split():
            if word[:1].isdigit() and "." in word:
                return word
    except OSError:
        pass
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=20)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    return None


def gpu_device_requests():
    """The SDK's equivalent of `docker run --gpus all`."""
    import docker
    return [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
