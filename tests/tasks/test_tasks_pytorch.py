"""The PyTorch tasks end to end on CPU, through tasks/run.py, with tiny sizes."""
import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest

from helpers import HANG_S
from helpers.datagen import make_cifar_tarball, make_data_dir

torch = pytest.importorskip("torch")

from helpers import ROOT
RUN = os.path.join(ROOT, "tasks", "run.py")
SCHEMA = json.load(open(os.path.join(ROOT, "tasks", "runtime", "result.schema.json")))


def run_task(tmp_path, *args, expect_ok=True):
    out = str(tmp_path / "result.json")
    proc = subprocess.run([sys.executable, RUN] + list(args) + ["--out", out],
                          capture_output=True, text=True, timeout=HANG_S,
                          env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert os.path.exists(out), proc.stderr
    result = json.load(open(out))
    jsonschema.validate(result, SCHEMA, format_checker=jsonschema.FormatChecker())
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if expect_ok:
        assert proc.returncode == 0, proc.stderr
        assert result["status"] == "ok", result.get("reason")
    return result, events, proc


@pytest.mark.slow
def test_cnn_real_format_data(tmp_path):
    data = make_data_dir(str(tmp_path / "data"), n=64)
    r, events, _ = run_task(tmp_path, "cnn", "--adapter", "pytorch", "--data", data,
                            "--epochs", "2")
    assert r["data"]["source"] == "real" and r["data"]["sizes"] == {"train": 320, "test": 64}
    assert r["model"]["parameters"] == 3441592 and r["model"]["layout"] == "NCHW"
    t = r["timings"]
    assert len(t["epoch_seconds"]) == 2 and t["batches"] == 2 * (320 // 64)
    assert t["train_seconds"] >= sum(t["epoch_seconds"]) * 0.99
    assert t["images_per_second"] > 0 and t["warmup_steps"] == 1
    # the 2017-style cell time: the warm-up step and the loop, everything included
    assert t["cell_seconds"] >= t["train_seconds"] + t["warmup_seconds"]
    assert 0.0 <= r["metrics"]["test_accuracy"] <= 1.0
    assert r["env"]["framework_version"] == torch.__version__
    assert r["env"]["settings"]["OMP_NUM_THREADS"] == "2"
    precision = r["env"]["adapter_settings"]["precision"]  # true fp32, recorded (no TF32)
    assert precision == {"dtype": "float32", "cudnn_tf32": False, "matmul_tf32": False,
                         "float32_matmul_precision": "highest"}
    assert [e["event"] for e in events] == ["start", "epoch", "epoch", "end"]
    assert events[1]["epoch"] == 1 and events[1]["loss"] > 0
    # a CPU run hides the GPUs before torch is imported, and says so
    assert r["env"]["settings"]["CUDA_VISIBLE_DEVICES"] == ""
    assert r["env"]["adapter_settings"]["variant_env"] == {"CUDA_VISIBLE_DEVICES": ""}
    # the BLAS torch and numpy run, asked inside the process (tasks/measure/blas.py)
    assert r["env"]["blas"] and all(b["kind"] for b in r["env"]["blas"])
    assert r["env"]["blas_info"]  # torch's own build (BLAS_INFO), as torch.__config__ says


@pytest.mark.slow
def test_rnn_real_format_data(tmp_path):
    data = make_data_dir(str(tmp_path / "data"), n=128)
    r, events, _ = run_task(tmp_path, "rnn", "--adapter", "pytorch", "--data", data,
                            "--epochs", "1")
    assert r["data"]["source"] == "real" and r["data"]["dataset"].startswith("imdb")
    assert r["model"]["parameters"] == 30000 * 125 + 68100 + 202
    assert r["params"]["epochs"] == 1 and r["timings"]["batches"] == 2
    assert r["metrics"]["test_accuracy"] is not None


@pytest.mark.slow
def test_inference_synthetic_features(tmp_path):
    r, events, _ = run_task(tmp_path, "inference", "--adapter", "pytorch", "--limit", "64")
    assert r["data"]["source"] == "synthetic"  # the 2017 protocol times random images
    assert r["metrics"]["features"] == 2048 and r["metrics"]["images"] == 64
    # torchvision's 23,508,032 parameters and 53,120 batch-norm running statistics
    assert r["model"]["parameters"] == 23561152 and r["model"]["weights"] == "random"
    t = r["timings"]
    assert t["batches"] == 2 and t["warmup_steps"] == 2  # 2017: one untimed pass over all
    assert abs(t["seconds_per_1000_images"] * t["images_per_second"] - 1000) < 1e-6


@pytest.mark.slow
def test_inference_loads_local_weights(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tasks"))
    from common import params
    from runtime import adapters
    _, adapter, _ = adapters.start("inference", "pytorch", "reference", "cpu", 0)
    model = adapter.build_model(params.INFERENCE)
    state = model.state_dict()
    state["fc.weight"] = torch.zeros(1000, 2048)  # a torchvision checkpoint carries fc.*
    torch.save(state, str(tmp_path / "w.pth"))
    r, _, _ = run_task(tmp_path, "inference", "--adapter", "pytorch", "--limit", "32",
                       "--weights", str(tmp_path / "w.pth"))
    assert r["model"]["weights"].endswith("w.pth")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["cnn", "inference"])
def test_tuned_variant_runs_channels_last(tmp_path, task):
    """The tuned (channels-last) variant goes through every layer, the flatten included, and
    the CNN trains on real-format files. (Whether each variant learns is the engine tests'
    learning check: PyTorch's default init needs a few hundred steps, test_engine_frameworks.)"""
    if task == "cnn":
        data = tmp_path / "data"
        data.mkdir()
        make_cifar_tarball(str(data / "cifar-10-python.tar.gz"), n=320, learnable=True)
        args = ["--data", str(data), "--epochs", "2"]
    else:
        args = ["--limit", "64"]
    r, _, _ = run_task(tmp_path, task, "--adapter", "pytorch", "--variant", "tuned", *args)
    assert r["variant"] == "tuned"
    assert r["env"]["adapter_settings"]["memory_format"] == "channels_last"
    if task == "cnn":
        assert r["timings"]["batches"] == 50
        assert r["metrics"]["final_loss"] > 0 and 0 <= r["metrics"]["test_accuracy"] <= 1
        assert "inference_graph" not in r["env"]["adapter_settings"]
    else:
        assert r["metrics"]["features"] == 2048
        graph = r["env"]["adapter_settings"]["inference_graph"]
        assert graph.startswith("torch.compile: inductor" if shutil.which("g++") or
                                shutil.which("c++") else "torchscript"), graph


def test_unknown_framework_leaves_failed_result(tmp_path):
    r, _, proc = run_task(tmp_path, "cnn", "--adapter", "nosuch", "--synthetic",
                          expect_ok=False)
    assert proc.returncode == 1 and r["status"] == "failed"
    assert "tasks/frameworks/nosuch.py" in r["reason"] and "pytorch" in r["reason"]
    assert len(proc.stderr.strip().splitlines()) == 1


def test_gpu_absent_is_a_clear_failure(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    r, _, proc = run_task(tmp_path, "cnn", "--adapter", "pytorch", "--synthetic",
                          "--device", "gpu", expect_ok=False)
    assert proc.returncode == 1 and "sees no CUDA GPU" in r["reason"]
    assert "--device cpu" in proc.stderr


def test_corrupt_dataset_leaves_failed_result(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b garbage")
    r, _, proc = run_task(tmp_path, "cnn", "--adapter", "pytorch", "--data", str(data),
                          expect_ok=False)
    assert r["status"] == "failed" and "dlbench data fetch" in r["reason"]
    assert r["exit_code"] == 1 and proc.returncode == 1


def test_usage_errors_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, RUN, "cnn", "--adapter", "pytorch",
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert proc.returncode == 2 and "--synthetic" in proc.stderr
    proc = subprocess.run([sys.executable, RUN, "nosuchtask", "--adapter", "pytorch",
                           "--out", str(tmp_path / "r.json")], capture_output=True, text=True)
    assert proc.returncode == 2


@pytest.mark.parametrize("task,variant,words", [
    ("cnn", "nosuch", ["variant 'nosuch' unknown", "reference, tuned"]),
    ("rnn", "tuned", ["has no rnn task", "cnn, inference"]),  # declared for CNN/inference only
])
def test_variant_checked_once_against_the_framework_module(tmp_path, task, variant, words):
    r, _, proc = run_task(tmp_path, task, "--adapter", "pytorch", "--variant", variant,
                          "--synthetic", expect_ok=False)
    assert proc.returncode == 1 and r["status"] == "failed"
    assert r["framework"] == "pytorch" and r["variant"] == variant
    for word in words:
        assert word in r["reason"], r["reason"]


def test_default_variant_is_the_framework_modules_first(tmp_path):
    r, _, _ = run_task(tmp_path, "cnn", "--framework", "pytorch", "--synthetic", "--limit", "64",
                       "--epochs", "1")  # --framework: the option's older name still works
    assert r["variant"] == "reference" and r["adapter"] == "pytorch"
    assert r["env"]["adapter_settings"]["layout"] == "NCHW"


@pytest.mark.parametrize("variant", ["tf32", "amp-bf16"])
def test_gpu_math_variants_are_refused_on_the_cpu_with_a_result(tmp_path, variant):
    """TF32 and mixed precision are GPU math modes: on the CPU, one clear line, exit 1, and
    the failed result still written."""
    r, _, proc = run_task(tmp_path, "cnn", "--adapter", "pytorch", "--variant", variant,
                          "--synthetic", "--limit", "64", expect_ok=False)
    assert proc.returncode != 0 and r["status"] == "failed"
    assert "runs on gpu only" in r["reason"], r["reason"]
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1, proc.stderr


def test_cnn_starts_from_pytorchs_default_init_as_2017():
    """2017's PyTorch_CNN set no initialiser: weights and biases uniform(+-1/sqrt(fan_in)),
    biases not zero (Glorot's bound for conv2, sqrt(6/(450+450)) = 0.082, is wider than
    1/sqrt(450) = 0.047, so a Glorot init fails this)."""
    sys.path.insert(0, os.path.join(ROOT, "tasks"))
    from common import params
    from runtime import adapters
    _, adapter, _ = adapters.start("cnn", "pytorch", "reference", "cpu", 0)
    model = adapter.build_model(params.CNN)
    for name in ("conv2", "conv4", "fc1"):
        layer = getattr(model, name)
        fan_in = layer.weight[0].numel()
        bound = fan_in ** -0.5
        w, b = layer.weight.detach().abs(), layer.bias.detach().abs()
        assert float(w.max()) <= bound and float(w.max()) > 0.9 * bound, name
        assert float(b.max()) <= bound and float(b.max()) > 0.5 * bound, name


def test_channels_last_computes_the_same_logits_as_nchw():
    """The tuned variant's channels-last tensors give the same network: same weights, same
    images, same logits (a flatten in the wrong memory order would scramble fc1's input)."""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "tasks"))
    from common import params
    from runtime import adapters
    fw, m, _ = adapters.start("cnn", "pytorch", "reference", "cpu", 0)
    nchw = m.build_model(params.CNN).eval()
    fw.DEVICE["channels_last"] = True
    try:
        last = m.build_model(params.CNN)
        last.load_state_dict(nchw.state_dict())
        last.eval()
        x = np.random.RandomState(0).rand(8, 3, 32, 32).astype(np.float32)
        with torch.no_grad():
            channels_last = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            a, b = nchw(torch.from_numpy(x)), last(channels_last)  # as the task file feeds it
    finally:
        fw.DEVICE["channels_last"] = False
    assert b.is_contiguous(memory_format=torch.channels_last) or b.dim() == 2
    assert torch.allclose(a, b, atol=1e-5), float((a - b).abs().max())


@pytest.mark.parametrize("graph", ["torchscript", "inductor"])
def test_frozen_inference_computes_the_eager_features(graph):
    """The tuned variant's inference on the CPU runs a compiled form of the model, frozen
    (batch-norm folded into the convolutions): torch.compile's inductor where a C++ compiler
    is found, else TorchScript optimised for inference. Either gives the eager model's features
    with the same weights, on every batch size after the first, and weights imported before
    the first batch are the ones frozen in (check-models' order)."""
    import numpy as np
    sys.path.insert(0, os.path.join(ROOT, "tasks"))
    from common import params
    from runtime import adapters
    p = dict(params.INFERENCE, height=64, width=64)
    fw, m, settings = adapters.start("inference", "pytorch", "tuned", "cpu", 0)
    compiler = shutil.which("g++") or shutil.which("c++")
    if graph == "inductor" and not compiler:
        pytest.skip("no C++ compiler: inductor cannot build its CPU kernels here")
    try:
        found = "inductor" if compiler and hasattr(torch, "compile") else "torchscript"
        assert fw.DEVICE["freeze"] == found
        assert settings["inference_graph"].startswith(
            "torch.compile: inductor" if found == "inductor" else "torchscript")
        tuned = m.build_model(p)
        fw.DEVICE.update(freeze=None, channels_last=False)
        eager = m.build_model(p)
        rng = np.random.RandomState(0)
        for name, value in eager.state_dict().items():  # batch-norm statistics that matter
            if name.endswith("running_var"):
                value.copy_(torch.from_numpy(rng.uniform(0.5, 2, value.shape).astype("f")))
            elif name.endswith("running_mean") or name.endswith("bn3.weight"):
                value.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, value.shape).astype("f")))
        m.import_params(tuned, m.export_params(eager))
        x = rng.rand(4, 3, 64, 64).astype(np.float32)
        sizes = (4, 1, 2) if graph == "torchscript" else (4, 2)  # inductor: a compile each
        want = [m.predict(eager, x[:n]) for n in sizes]
        fw.DEVICE.update(freeze=graph, channels_last=True)
        got = [m.predict(tuned, x[:n]) for n in sizes]
        assert id(tuned) in m._FROZEN
        compiled = m._FROZEN[id(tuned)][1]
        assert isinstance(compiled, torch.jit.ScriptModule) == (graph == "torchscript")
    finally:
        fw.DEVICE.update(freeze=None, channels_last=False)
        m._FROZEN.clear()
    for a, b in zip(want, got):
        assert a.shape == b.shape
        assert np.allclose(a, b, rtol=1e-3, atol=1e-4), float(np.abs(a - b).max())
