"""JAX + Flax (NNX) + optax: what every Flax task file shares.

Functional jit: each task writes its network as a Flax NNX module, splits it into a static graph
and a pytree of parameters, and compiles pure functions with jax.jit. The host imports this
module without JAX installed: jax is imported by load().
"""
import os

NAME = "flax"
PACKAGES = ("jax", "flax", "optax")
VARIANTS = [
    {"name": "reference", "doc": "jax.jit on XLA's defaults, NHWC", "env": {}, "row": None},
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
    import jax


def version():
    import flax
    return flax.__version__


def probe():
    import optax
    dev = jax.devices()[0]
    info = {"cuda": None, "jax": jax.__version__, "optax": optax.__version__,
            "backend": jax.default_backend(), "threads": {"cpu_count": os.cpu_count()}}
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


def gemm(n):
    """The peak probe's product (common/peak.py): (matmul, wait, method) for an n x n float32
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
