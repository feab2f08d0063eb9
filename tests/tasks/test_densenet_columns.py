"""The DenseNet-121 task's Keras 3, Flax, MXNet and Chainer columns (issue 16), host side (no
engine, no framework imported): Flax's host-device flag, the images declaring densenet with their
decoders pinned. In the images: tests/engine/test_engine_densenet_columns.py."""
import json
import os
import subprocess
import sys

from helpers import DENSENET_IMAGES, ROOT, TASKS


def test_host_devices_flag_is_set_before_jax_starts():
    """frameworks/flax.py asks XLA for N host devices when a run wants N replicas (JAX reads
    XLA_FLAGS once, as it starts), replaces a count already there, and leaves one-device
    runs alone."""
    from importlib import import_module
    import sys
    sys.path.insert(0, TASKS)
    try:
        flax_module = import_module("frameworks.flax")
    finally:
        sys.path.remove(TASKS)
    env = {"DLBENCH_DEVICES": "2", "XLA_FLAGS": "--xla_cpu_foo=1"}
    assert flax_module.host_devices_env(env) == (
        "--xla_cpu_foo=1 --xla_force_host_platform_device_count=2")
    env = {"DLBENCH_DEVICES": "3",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=8 --xla_cpu_foo=1"}
    flax_module.host_devices_env(env)
    assert env["XLA_FLAGS"].split() == ["--xla_cpu_foo=1",
                                        "--xla_force_host_platform_device_count=3"]
    env = {"DLBENCH_DEVICES": "1"}
    assert flax_module.host_devices_env(env) is None and "XLA_FLAGS" not in env


def test_images_declare_densenet_and_bring_their_decoders():
    from harness.core import catalog
    for adapter, name in DENSENET_IMAGES.items():
        img = catalog.load_image(os.path.join(ROOT, "images", name))
        assert "densenet" in img.tasks, name
    for name, pins in (("flax-0.12", ("grain==", "pillow==")), ("chainer-7.8", ("pillow==",))):
        for req in ("requirements-cpu.txt", "requirements-cuda.txt"):
            text = open(os.path.join(ROOT, "images", name, req)).read()
            for pin in pins:
                assert pin in text, (name, req, pin)


def test_no_engine_needed_for_the_host_checks():
    """The checks above import no framework (the framework modules are stdlib-only)."""
    code = ("import sys; sys.path.insert(0, %r); import frameworks.flax, frameworks.keras3; "
            "print(sorted(m for m in ('jax', 'keras', 'PIL', 'grain') if m in sys.modules))"
            % TASKS)
    assert subprocess.check_output(["python3", "-c", code]).decode().strip() == "[]"


def test_the_learning_rate_follows_each_notebooks_multi_gpu_rule():
    """2017's MultiGPU notebooks multiplied the batch and the lr by the GPU count ("LR *=
    GPU_COUNT"), except Chainer_MultiGPU, which kept the lr ("if MULTI_GPU: pass"): run.py's
    parameters for 2 replicas, per framework module."""
    code = ("import sys, json; sys.argv = ['run.py']; sys.path.insert(0, %r); import run; "
            "out = {}\n"
            "for a in ('pytorch', 'chainer', 'mxnet', 'keras3', 'flax', 'tensorflow'):\n"
            "    args = run.parse_args(['densenet', '--adapter', a, '--workers', '2', "
            "'--synthetic', '--out', '/dev/null'])\n"
            "    p = run.densenet_params(args, run.params.for_task('densenet'))\n"
            "    out[a] = [p['lr'], p['global_lr'], p['global_batch']]\n"
            "print(json.dumps(out))" % TASKS)
    found = json.loads(subprocess.check_output([sys.executable, "-c", code]).decode())
    lr, batch = found["pytorch"][0], found["pytorch"][2]
    assert lr == 1e-4 and batch == 2 * 64  # params_dense.py: LR 0.0001, BATCHSIZE 64 a GPU
    assert found.pop("chainer") == [lr, lr, batch]
    assert all(v == [lr, 2 * lr, batch] for v in found.values()), found
