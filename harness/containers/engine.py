"""The Docker engine, through the Docker SDK for Python: connecting (with one clear line when it
is down), what it is (version, GPU runtime), and the GPU driver of the host."""
import os
import shutil
import subprocess

from ..core.errors import HarnessError

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
            raise unreachable(e)
        _client = c
    return _client


def unreachable(e):
    """The one line for an engine that does not answer (exception e: why)."""
    return HarnessError(
        "cannot reach the Docker engine (%s): start it (e.g. `sudo systemctl start docker`, or "
        "`sudo dockerd &`) and check that you may use it (`docker info`)" % short_error(e))


def local_image(ref, client_=None):
    """The engine's image ref, or None when the engine does not have it. An engine that does
    not answer is a HarnessError saying so (never "not built here": that advice would mislead)."""
    import docker
    c = client_ or client()
    try:
        return c.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as e:
        raise HarnessError("the Docker engine could not look up %s: %s" % (ref, short_error(e)))
    except Exception as e:  # requests' ConnectionError, a socket gone: the engine stopped
        raise unreachable(e)


SHORT_ERROR_LIMIT = 400


def short_error(e, limit=SHORT_ERROR_LIMIT):
    """An exception as one line for an error message, its cause kept.

    The engine's own message where there is one: an APIError's explanation (its str begins
    with the request URL, which would push the cause out: `400 Client Error for
    http+docker://localhost/v1.41/containers/<id>/start: Bad Request ("failed to create shim
    task: ...")`), a BuildError's msg; otherwise the last line of the exception's text. Runs
    of whitespace become one space; a text over `limit` characters keeps its head and its
    tail (where the cause usually is), joined by " ... "."""
    text = None
    explanation = getattr(e, "explanation", None)
    if explanation:
        text = explanation.decode("utf-8", "replace") if isinstance(explanation, bytes) \
            else str(explanation)
    elif type(e).__name__ == "BuildError" and getattr(e, "msg", None):
        text = str(e.msg)
    elif getattr(e, "response", None) is not None and hasattr(e, "status_code"):
        # an APIError without an explanation: its status, not the URL
        response = e.response
        text = "%s %s" % (getattr(response, "status_code", ""), getattr(response, "reason", ""))
    if not text or not text.strip():
        lines = [line for line in str(e).splitlines() if line.strip()]
        text = lines[-1] if lines else type(e).__name__
    return one_line(text, limit)


def one_line(text, limit=SHORT_ERROR_LIMIT):
    """text as one line (whitespace runs, newlines included, become one space), at most limit
    characters: a longer one keeps its head and its tail, joined by " ... "."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head - 5
    return text[:head] + " ... " + text[-tail:]


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
