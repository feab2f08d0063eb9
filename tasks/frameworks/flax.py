"""JAX + Flax (NNX) + optax: what every Flax task file shares.

Functional jit: each task writes its network as a Flax NNX module, splits it into a static graph
and a pytree of parameters, and compiles pure functions with jax.jit. The host imports this
module without JAX installed: jax is imported by load().

Several devices on a CPU (the densenet task's --workers N): JAX makes N host devices when
XLA_FLAGS holds --xla_force_host_platform_device_count=N as it starts; load() adds that flag
from DLBENCH_DEVICES (the replica count run.py exports) before it imports jax. The densenet
task's data loader is Grain (grain.DataLoader, worker processes) decoding PNGs with Pillow
(PIL): both in the image for that task.
"""
import os
import re

NAME = "flax"
PACKAGES = ("jax", "flax", "optax", "grain", "PIL", "absl")  # absl: Grain's flags
# the replica count of a data-parallel run, exported by run.py before the framework is imported
DEVICES_ENV = "DLBENCH_DEVICES"
HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"
VARIANTS = [
    {"name": "reference", "doc": "jax.jit on XLA's defaults, NHWC", "env": {}, "row": None,
     # what holds the CNN below the CPU's peak, measured (shown in the report's footnote)
     "cpu_limits": {"cnn": "XLA's CPU convolutions: the CNN's four layers, forward and both "
                           "gradients, ran at 64-198 GFLOP/s under jax.jit against 300-347 for "
                           "TensorFlow's oneDNN and about 400 for XLA's own matmul (flax-0.12, "
                           "tensorflow-2.21, 2-CPU AMD EPYC); XLA's flags tried (oneDNN, XNNPACK, "
                           "the thunk runtime off, fast math) changed neither the layers nor "
                           "the CNN",
                    "inference": "XLA's CPU convolutions on ResNet-50's shapes (batch 32, "
                                 "forward, jax.jit, 2-CPU AMD EPYC): the 7x7 stem 95 GFLOP/s, a "
                                 "first-stage 3x3 141 and 1x1 45, against TensorFlow's oneDNN on "
                                 "the same shapes 252, 350 and 243; only the last stages' 3x3s "
                                 "come near (361 and 298 against 432 and 473)"}},
    # a GPU math mode the 2017 K80/P100 did not have (mixed precision is not offered here: it
    # needs a dtype through every layer of the task files; the keras3 jax-mixed-bf16 variant
    # runs JAX in bfloat16)
    {"name": "tf32", "doc": "TF32 matmul/convolution precision on the GPU "
     "(jax_default_matmul_precision=tensorfloat32)", "env": {}, "devices": ["gpu"], "row": None},
]
DEVICE = {"gpu": False, "seed": 0}
jax = None


def load():
    global jax
    host_devices_env()
    import jax


def version():
    import flax
    return flax.__version__


def probe():
    from common import cpus
    import optax
    dev = jax.devices()[0]
    info = {"cuda": None, "jax": jax.__version__, "optax": optax.__version__,
            "backend": jax.default_backend(), "threads": {"cpu_count": cpus.total()}}
    if dev.platform == "gpu":
        info["gpu"] = dev.device_kind
        if getattr(dev, "compute_capability", None):
            info["gpu_compute_capability"] = str(dev.compute_capability)
    return info


def init(device, seed, variant):
    if device == "gpu" and jax.default_backend() != "gpu":
        raise RuntimeError("--device gpu, but JAX %s has no GPU backend: use --device cpu or "
                           "an image with jax[cuda]" % jax.__version__)
    if device == "cpu":
        jax.config.update("jax_default_device", jax.devices("cpu")[0])
    DEVICE["gpu"] = device == "gpu"
    DEVICE["seed"] = seed
    # true fp32 (XLA's default fp32 matmul precision on Ampere and newer GPUs is TF32-like),
    # unless the tf32 variant asks for TF32
    jax.config.update("jax_default_matmul_precision",
                      "tensorfloat32" if variant == "tf32" else "highest")
    return {"jit": "jax.jit", "precision": {
        "dtype": "float32 (TF32 math)" if variant == "tf32" else "float32",
        "jax_default_matmul_precision": jax.config.jax_default_matmul_precision}}


# model equivalence (`dlbench check-models`): a weight pytree (an nnx.State) as named numpy
# arrays and back, for the task files' export_params / import_params. A leaf's name is its path
# with dots, without the `value` of a Variable and the `layers` of an nnx.Sequential, so
# torchvision-style names come out of torchvision-style modules (layer1.0.downsample.1.scale).

def _path_name(path):
    parts = []
    for k in path:
        for attr in ("key", "idx", "name"):
            if hasattr(k, attr):
                k = getattr(k, attr)
                break
        if str(k) not in ("value", "raw_value", "layers"):
            parts.append(str(k))
    return ".".join(parts)


def named_arrays(tree):
    """{dotted path: numpy array} of every leaf of the pytree."""
    import numpy as np
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return dict((_path_name(path), np.asarray(leaf)) for path, leaf in leaves)


def with_arrays(tree, arrays):
    """The pytree with every leaf replaced by arrays[its name] (same shape and dtype); a name
    missing from arrays is a KeyError."""
    import jax.numpy as jnp
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    new = []
    for path, leaf in leaves:
        value = arrays[_path_name(path)]
        if tuple(value.shape) != tuple(leaf.shape):
            raise ValueError("%s: shape %s, the model's is %s" % (_path_name(path),
                                                                  value.shape, leaf.shape))
        new.append(jnp.asarray(value, dtype=leaf.dtype))
    return jax.tree_util.tree_unflatten(treedef, new)


def host_devices_env(environ=None):
    """Before JAX starts: ask XLA for DLBENCH_DEVICES host (CPU) devices when a run wants more
    than one (a flag already in XLA_FLAGS is replaced). Harmless on a GPU run: the GPUs are
    JAX's devices there. Returns the XLA_FLAGS in effect. Shared with frameworks/keras3.py."""
    environ = os.environ if environ is None else environ
    try:
        n = int(environ.get(DEVICES_ENV) or 1)
    except ValueError:
        n = 1
    flags = environ.get("XLA_FLAGS", "")
    if n > 1:
        flags = re.sub(re.escape(HOST_DEVICES_FLAG) + r"=\S*", "", flags).strip()
        environ["XLA_FLAGS"] = ("%s %s=%d" % (flags, HOST_DEVICES_FLAG, n)).strip()
    return environ.get("XLA_FLAGS")


def devices(n):
    """The first n devices of the run's platform (GPUs, or host devices on a CPU run): the
    data-parallel replicas. Fewer than n is one clear error."""
    found = jax.devices()
    if len(found) < n:
        raise RuntimeError("%d data-parallel replicas asked for, JAX sees %d %s device(s): on a "
                           "CPU, run through run.py with --workers %d (it sets %s before JAX "
                           "starts: XLA_FLAGS=%s=%d)" % (n, len(found), found[0].platform, n,
                                                         DEVICES_ENV, HOST_DEVICES_FLAG, n))
    return found[:n]


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    import numpy as np
    import jax.numpy as jnp
    rng = np.random.RandomState(0)
    dev = jax.devices()[0] if DEVICE["gpu"] else jax.devices("cpu")[0]
    a = jax.device_put(rng.standard_normal((n, n)).astype(np.float32), dev)
    b = jax.device_put(rng.standard_normal((n, n)).astype(np.float32), dev)
    dot = jax.jit(jnp.dot)  # at init's jax_default_matmul_precision
    return (lambda: dot(a, b), lambda out: out.block_until_ready(),
            "jax.jit(jnp.dot) on %s, block_until_ready" % dev.platform)
