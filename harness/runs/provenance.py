"""Provenance the host adds to every result it collects: which image (name, id, digest, the
Dockerfile's sha256, `pip freeze` inside it) ran on which host (name, engine, GPU driver).
`pip freeze` costs a container start, so it is cached per image id under ~/.cache/dlbench."""
import hashlib
import os
import socket

from ..containers import engine, oneshot


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dlbench")


def dockerfile_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pip_freeze(image_id, python="python3"):
    """`PYTHON -m pip freeze --all` inside the image, cached by image id; the container gets the
    settings of every dlbench container (harness/containers/oneshot.py: hardened, owner-labelled, removed after)."""
    cache = os.path.join(cache_dir(), "pip-freeze", image_id.replace(":", "_") + ".txt")
    if os.path.isfile(cache):
        with open(cache) as f:
            return [line for line in f.read().splitlines() if line]
    done = oneshot.run(image_id, [python, "-m", "pip", "freeze", "--all"], "pip-freeze",
                       environment={"PIP_DISABLE_PIP_VERSION_CHECK": "1"}, timeout=300,
                       stderr=False)
    if not done.ok:
        return ["# pip freeze failed: %s" % (done.problem or "exit %s" % done.exit_code)]
    lines = [line for line in done.output.splitlines() if line]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(cache + ".tmp", cache)
    return lines


def for_image(image, image_obj):
    """The per-image part (the same for every run of a bench invocation)."""
    digests = image_obj.attrs.get("RepoDigests") or []
    return {
        "image": image.name,
        "image_tag": image.tag,
        "image_id": image_obj.id,
        "image_digest": digests[0] if digests else None,
        "dockerfile_sha256": dockerfile_sha256(image.dockerfile),
        "image_labels": dict(image_obj.labels or {}),
        "pip_freeze": pip_freeze(image_obj.id, image.python),
        "host": socket.gethostname(),
        "docker_version": engine.version(),
        "gpu_driver": engine.host_gpu_driver(),
    }
