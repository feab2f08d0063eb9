"""The GPU-architecture guard: refuse to start a GPU run that the image's CUDA cannot drive.

A framework built against CUDA 8 carries kernels for GPUs up to Pascal (compute capability 6.x);
on a newer GPU it fails late and obscurely ("no kernel image is available for execution on the
device") or, worse, runs on a fallback path and reports a misleading time. An image declares the
highest capability it drives in LABEL org.dlbench.max-compute-capability (empty: no limit). Before
a GPU run (--device gpu, or --device auto that resolved to the GPU) `dlbench bench` compares it
with the host GPU's capability (nvidia-smi) and refuses with one line, unless --ignore-gpu-guard.

DLBENCH_FAKE_GPU="9.0,NVIDIA H100" replaces the nvidia-smi probe. It exists ONLY for the tests
(the test machine has no GPU); do not set it anywhere else.
"""
import os
import re
import shutil
import subprocess

from ..core import catalog
from ..core.errors import HarnessError

FAKE_ENV = "DLBENCH_FAKE_GPU"

# Capability of GPUs users are likely to hold, for the "use a ... host" hint and for old drivers
# whose nvidia-smi cannot report compute_cap (it arrived with driver 510).
KNOWN_GPUS = (
    ("K80", (3, 7)), ("M40", (5, 2)), ("P100", (6, 0)), ("P40", (6, 1)), ("GTX 1080", (6, 1)),
    ("V100", (7, 0)), ("T4", (7, 5)), ("RTX 2080", (7, 5)), ("A100", (8, 0)),
    ("A10", (8, 6)), ("RTX 3090", (8, 6)), ("L4", (8, 9)), ("RTX 4090", (8, 9)),
    ("H100", (9, 0)), ("H200", (9, 0)), ("B200", (10, 0)),
)
# The hosts the 2017/2018 reference numbers came from, offered first in the hint.
REFERENCE_HOSTS = ("K80", "P100", "V100")


def parse_capability(text):
    """'6.1', 'sm_61', '61' or (6, 1) -> (6, 1); None for empty/unknown."""
    if text is None:
        return None
    if isinstance(text, tuple):
        return text
    text = str(text).strip().lower()
    if not text or text in ("none", "n/a", "[n/a]"):
        return None
    m = re.match(r"^(?:sm_?|compute_)?(\d+)\.(\d+)$", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.match(r"^(?:sm_?|compute_)?(\d)(\d)$", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.match(r"^(?:sm_?|compute_)?(\d\d)(\d)$", text)  # sm_100, sm_120
    if m:
        return int(m.group(1)), int(m.group(2))
    raise ValueError("not a compute capability: %r" % text)


def sm(cap):
    return "sm_%d%d" % cap


def capability_of_name(name):
    """Capability from a GPU model name, for drivers whose nvidia-smi lacks compute_cap."""
    upper = (name or "").upper()
    for model, cap in sorted(KNOWN_GPUS, key=lambda mc: -len(mc[0])):
        if re.search(r"(^|[^A-Z0-9])%s([^0-9]|$)" % re.escape(model.upper()), upper):
            return cap
    return None


def hosts_for(max_cap):
    """Reference GPUs this image can drive (the hint's 'or a ... host')."""
    return [m for m, c in KNOWN_GPUS if m in REFERENCE_HOSTS and c <= max_cap]


def compare(image_labels, gpu_capability, image_name="image", gpu_name=None, alternatives=()):
    """(allowed, message). image_labels: the image's LABELs (full org.dlbench.* keys or short
    keys); gpu_capability: '9.0' / (9, 0) / None when unknown (then the guard allows: it only
    refuses what it knows is wrong). The message is one line, empty when there is nothing to say."""
    def label(short):
        if catalog.label_key(short) in image_labels:
            return image_labels[catalog.label_key(short)]
        return image_labels.get(short)

    max_cap = parse_capability(label("max-compute-capability"))
    gpu = parse_capability(gpu_capability)
    if max_cap is None or gpu is None or gpu <= max_cap:
        return True, ""
    cuda = label("cuda")
    cuda_text = "CUDA %s" % (cuda[:-2] if cuda and cuda.endswith(".0") else cuda) \
        if cuda and cuda != "none" else "its CUDA"
    hosts = hosts_for(max_cap)
    suggestions = []
    if alternatives:
        suggestions.append(" or ".join(alternatives))
    if hosts:
        suggestions.append("a %s host" % "/".join(hosts))
    return False, "image %s drives %s / up to %s; this GPU is %s%s; use %s" % (
        image_name, cuda_text, sm(max_cap), sm(gpu),
        " (%s)" % gpu_name if gpu_name else "",
        " or ".join(suggestions) or "an older GPU")


def probe(environ=None, run=subprocess.run):
    """(capability, name) of GPU 0, or (None, None) when there is no nvidia-smi / no GPU."""
    env = os.environ if environ is None else environ
    fake = env.get(FAKE_ENV)
    if fake:
        cap, _, name = fake.partition(",")
        return parse_capability(cap), (name.strip() or None)
    if not shutil.which("nvidia-smi"):
        return None, None
    try:
        out = run(["nvidia-smi", "--query-gpu=compute_cap,name", "--format=csv,noheader"],
                  capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            cap, _, name = out.stdout.strip().splitlines()[0].partition(",")
            return parse_capability(cap), name.strip() or None
        # Drivers before 510 do not know compute_cap: ask for the name only.
        out = run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                  capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            name = out.stdout.strip().splitlines()[0].strip()
            return capability_of_name(name), name
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return None, None


def modern_alternatives(image, images):
    """Other images sharing an adapter with this one, with no (or a higher) capability limit."""
    mine = parse_capability(image.max_compute_capability)
    out = []
    for other in images:
        if other.name == image.name or not set(other.adapters) & set(image.adapters):
            continue
        theirs = parse_capability(other.max_compute_capability)
        if theirs is None or (mine is not None and theirs > mine):
            out.append(other.name)
    return out


IGNORE_OPTION = "--ignore-gpu-guard"  # bench's option that runs a refused image anyway


def guard(image, ignore=False, images=None, environ=None, echo=None):
    """Raise HarnessError (one line) when the host GPU is beyond what the image drives.
    With ignore (--ignore-gpu-guard), say it once (through echo) and go on. Returns the message
    or ''."""
    cap, name = probe(environ)
    if images is None:
        images = catalog.discover(os.path.dirname(image.folder))
    ok, message = compare(image.labels, cap, image.name, name,
                          modern_alternatives(image, images))
    if ok:
        return ""
    if not ignore:
        raise HarnessError(message + " (%s runs it anyway)" % IGNORE_OPTION)
    if echo:
        echo("warning: " + message + "; running anyway (%s)" % IGNORE_OPTION)
    return message
