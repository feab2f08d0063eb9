"""End to end on the real Docker engine for every image built here (images/*/Dockerfile, the
2017-era ones excepted: they need CUDA 8 and internet), discovered, never listed: build (or
reuse) each through the harness, run every task it declares on tiny synthetic data in containers
with `dlbench bench` (the CNN on every variant, the other tasks on each adapter's first variant,
DenseNet in tests/engine/test_engine_densenet.py;
an image's adapters are different programs, e.g. tensorflow-2.21's tensorflow and tensorflow1;
the other Keras backends' RNN and inference runs would cost about two CI minutes more, measured
here), check the results. Each image's CNN, on every variant but the tuned ones (the same
program with other kernels), must also learn a real-format CIFAR-10 tarball whose labels are
visible in the pixels (50 SGD steps, measured here to reach test accuracy 1.0 in every
framework; chance is 0.1): a speed figure from a model that cannot learn means nothing. Every
run gets the hardened container of harness/containers/hardening.py (no capabilities, read-only
root with a tmpfs at /tmp, pids and log limits, an unprivileged uid): these runs are the check
that every image's tasks work under it, and that the files they leave belong to the caller.
Needs an engine."""
import glob
import os

import pytest
from click.testing import CliRunner

from harness.images import build
from harness.core import catalog, taskfiles
from harness.results import results
from harness.cli import main

from helpers import HANG_S
from helpers.datagen import make_cifar_tarball
from helpers.taskfiles import declared

pytestmark = [pytest.mark.engine, pytest.mark.slow,
              pytest.mark.usefixtures("shared_compile_cache")]

from helpers import ROOT
IMAGES = [img.name for img in catalog.discover(os.path.join(ROOT, "images"))
          if img.era == "current"]
# the GRU's weights in either bias convention (one bias vector, or two as cuDNN has them), where
# the task file declares no PARAMETERS of its own (tasks/rnn/tensorflow.py does: 2017's
# trainable initial state adds 6,400)
RNN_PARAMETERS = (3750000 + 202 + 67800, 3750000 + 202 + 68100)


def opts(variants):
    return [a for v in variants for a in ("--variant", v)]


def variants_of(img, task):
    """The image's variants that its framework modules run for this task on the CPU (TF32 and
    mixed precision are GPU-only); first = reference."""
    offered = img.offered_variants(task, "cpu")
    return [v for v in img.variants if v in offered]


def firsts_of(img, task):
    """The first of each adapter's variants in the image (each program's reference)."""
    seen, out = set(), []
    for v in variants_of(img, task):
        if img.adapter_for(v) not in seen:
            seen.add(img.adapter_for(v))
            out.append(v)
    return out


@pytest.fixture(scope="module", params=IMAGES)
def image(request, engine):
    img = catalog.lookup([request.param])[0]
    done = build.ensure_built(img, echo=lambda *a, **k: None)
    return img, done


def bench(out, name, *argv):
    res = CliRunner().invoke(main, ["bench", name, "--results-dir", str(out), "--synthetic",
                                    "--epochs", "1", "--timeout", str(HANG_S)] + list(argv))
    found = [results.read_upgraded(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    return res, found


def test_all_tasks_on_tiny_synthetic_data(image, tmp_path):
    img, built = image
    out = tmp_path / "results"
    expected = []
    for task in img.tasks:
        if task == "densenet":  # tests/engine/test_engine_densenet.py runs it in every image that has it
            continue
        variants = variants_of(img, task) if task == "cnn" else firsts_of(img, task)
        limit = "32" if task == "inference" else "128"
        # inference also times one request at batch 1 and at 8 (--latency): every adapter's
        # forward pass takes other batch sizes than 2017's 32
        latency = ["--latency-requests", "1"] if task == "inference" else []
        res, found = bench(out, img.name, "--task", task, "--limit", limit, *(
            opts(variants) + latency))
        assert res.exit_code == 0, res.output
        expected += [(task, v) for v in variants]
    assert sorted((r["task"], r["variant"]) for r in found) == sorted(expected)
    assert_owned_by_caller(out)
    for r in found:
        assert results.validate(r) == [], (r["task"], r["variant"])
        assert r["status"] == "ok" and r["data"]["source"] == "synthetic", r.get("reason")
        assert r["provenance"]["image"] == img.name
        assert r["provenance"]["image_id"] == built.image_id
        fw = taskfiles.load(img.adapter_for(r["variant"]))  # the adapter declaring it ran
        assert r["framework"] == fw.name and r["adapter"] == fw.adapter
        assert r["env"]["framework_version"]
        freeze = [line.replace("_", "-").lower() for line in r["provenance"]["pip_freeze"]]
        # the pip distribution that installed the framework (DISTRIBUTIONS where its name is
        # not the package's: caffe2 comes in the torch wheel)
        dists = getattr(fw.module, "DISTRIBUTIONS", fw.packages)
        assert any(line.split("==")[0].startswith(p) for p in dists for line in freeze)
        settings = r["env"]["adapter_settings"]
        spec = fw.variant(r["variant"])  # its env, and what task_env adds for this task
        wanted = dict(spec["env"], **(spec.get("task_env") or {}).get(r["task"], {}))
        assert_variant_env(wanted, settings["variant_env"], r["env"])
        coretype = settings["variant_env"].get("OPENBLAS_CORETYPE")
        if coretype:  # the kernel asked for is the kernel an OpenBLAS of the process ran
            # (or, asked for SkylakeX, Haswell: an OpenBLAS built without SkylakeX, as MXNet's,
            # runs that instead; tasks/measure/blas.py openblas_coretype)
            kernels = [str(b.get("kernel")).lower() for b in r["env"]["blas"]
                       if b["kind"] == "openblas"]
            ran = {"skylakex": ("skylakex", "haswell")}.get(coretype.lower(), (coretype.lower(),))
            assert set(ran) & set(kernels), (coretype, kernels)
            assert "barcelona" not in kernels, (coretype, kernels)  # never the generic kernel
        if r["adapter"] == "keras3":
            assert settings["backend"] == r["variant"].split("-")[0]
        paths = [c.get("method", "") for c in r["peak"]["candidates"]]
        if r["adapter"] == "pytorch" or settings.get("backend") == "torch":
            # torch's CPU convolutions run on oneDNN, its matmul on MKL: both probed
            assert any(m.startswith("oneDNN inner product") for m in paths), paths
        precision = settings["precision"]  # true fp32 pinned, and recorded
        assert precision["dtype"] == "float32", precision
        assert not any(precision.get(k) for k in ("tf32", "cudnn_tf32", "matmul_tf32"))
        assert precision.get("jax_default_matmul_precision", "highest") == "highest"
        assert precision.get("float32_matmul_precision", "highest") == "highest"
        if settings["variant_env"].get("TF_ENABLE_ONEDNN_OPTS") == "1":
            assert settings["onednn"] is True, settings  # TensorFlow's oneDNN kernels: on
        if r["task"] == "cnn":
            assert r["model"]["parameters"] == 3441592
            assert r["model"]["layout"] in ("NCHW", "NHWC")
            assert r["timings"]["warmup_steps"] == 1 and r["timings"]["images_per_second"] > 0
        elif r["task"] == "rnn":
            expected = declared("rnn", r["adapter"], "PARAMETERS")
            assert (r["model"]["parameters"] == expected if expected is not None
                    else r["model"]["parameters"] in RNN_PARAMETERS)
        else:
            # each framework's own ResNet-50, as its task file declares it (run.py asserts it)
            assert r["model"]["parameters"] == declared("inference", r["adapter"],
                                                        "PARAMETERS")
            assert r["env"]["adapter_settings"]["network"]
            assert r["metrics"]["features"] == 2048
            assert sorted(r["latency"]) == ["1", "8"], r.get("latency")
            assert all(s["requests"] == 1 and s["p50_ms"] > 0 for s in r["latency"].values())


def assert_variant_env(declared, recorded, env):
    """The variant's environment as set in the container: the declared values, placeholders
    ({cpu_count}, {openblas_coretype}: tasks/measure/blas.py) expanded there, and the thread
    count a framework reports following it (MXNet's engine: env.threads.mxnet_operators)."""
    # a CPU run also hides the GPUs before the framework is imported (tasks/runtime/adapters.py)
    recorded = dict(recorded)
    assert recorded.pop("CUDA_VISIBLE_DEVICES", None) == "" or env.get("gpu")
    assert set(recorded) <= set(declared), (declared, recorded)
    for key, value in declared.items():
        if key == "THEANO_FLAGS":  # added after the caller's flags (runtime/adapters.py LIST_ENV)
            assert recorded[key].split(",")[-len(value.split(",")):] == value.split(","), key
        elif "{" not in value:
            assert recorded[key] == value, key
        elif value == "{cpu_count}":
            assert recorded[key] == str(env["cpu_count"]), (key, recorded, env["cpu_count"])
        else:  # a value expanding to "" is not set
            assert key not in recorded or (recorded[key] and "{" not in recorded[key]), key
    if "OMP_NUM_THREADS" in recorded and env["threads"].get("mxnet_operators") is not None:
        assert env["threads"]["mxnet_operators"] == int(recorded["OMP_NUM_THREADS"])


def assert_owned_by_caller(folder):
    """Every folder and file a bench left is the caller's, also when the container ran as
    nobody (a root caller: hardening.prepare_results_dir / reclaim_results_dir)."""
    me = (os.getuid(), os.getgid())
    for path, dirs, files in os.walk(str(folder)):
        for p in [path] + [os.path.join(path, n) for n in dirs + files]:
            st = os.lstat(p)
            assert (st.st_uid, st.st_gid) == me, p


def test_unknown_variant_is_refused_before_running(image, tmp_path):
    img, _ = image
    res, found = bench(tmp_path / "results", img.name, "--task", "cnn", "--variant", "nope")
    assert res.exit_code != 0 and found == []


# Epochs of the learning check (25 SGD steps each): 2 (50 steps), except where a framework's
# 2017 init starts this CNN on a loss plateau: PyTorch's default init (2017's PyTorch_CNN
# notebook) learns datagen's problem in 75 steps (accuracy 1.0 over five seeds on the host CPU,
# 0.70-0.82 after 50): 4 epochs, 100 steps.
LEARNING_EPOCHS = {"pytorch": 4}


def programs_of(img, task):
    """The variants that are a program of their own: every variant but the tuned ones, which
    run the program of the variant they tune with other kernels or thread settings (each is
    compared with the canonical model by tests/engine/test_engine_equivalence.py, and runs in
    test_all_tasks_on_tiny_synthetic_data)."""
    return [v for v in variants_of(img, task) if not (v == "tuned" or v.endswith("-tuned"))]


def test_cnn_learns_a_learnable_problem(image, tmp_path):
    """SGD steps (320 images per batch file; LEARNING_EPOCHS) on real-format CIFAR-10 files
    whose label decides a bright band: every program's accuracy must be far above chance (0.1).
    Catches a wrong layout, labels out of step with images, a dead dropout/training switch, a
    wrong loss."""
    img, _ = image
    variants = programs_of(img, "cnn")
    epochs = LEARNING_EPOCHS.get(img.adapter, 2)
    data = tmp_path / "data"
    data.mkdir()
    make_cifar_tarball(str(data / "cifar-10-python.tar.gz"), n=320, learnable=True)
    out = tmp_path / "results"
    res = CliRunner().invoke(main, ["bench", img.name, "--results-dir", str(out), "--task", "cnn",
                                    "--data-dir", str(data), "--epochs", str(epochs),
                                    "--timeout", str(HANG_S)]
                             + opts(variants))
    found = [results.read_upgraded(p) for p in sorted(glob.glob(str(out / "*/*/*/result.json")))]
    assert res.exit_code == 0, res.output
    assert sorted(r["variant"] for r in found) == sorted(variants)
    for r in found:
        assert r["status"] == "ok" and r["data"]["source"] == "real", r.get("reason")
        assert r["timings"]["batches"] == 25 * epochs
        # the clock stopped after the device finished (a real adapter's sync works)
        assert r["checks"]["clock"]["flagged"] is False, (r["variant"], r["checks"])
        assert r["metrics"]["test_accuracy"] > 0.5, (r["variant"], r["metrics"])
