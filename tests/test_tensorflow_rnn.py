"""The TensorFlow RNN as the 2017 Tensorflow_RNN notebook built it (issue 12, point 2).

2017 (ilkarman/DeepLearningFrameworks at 671e2a0, notebooks/Tensorflow_RNN.ipynb, TensorFlow
1.4): cuDNN's GRU, time-major, weights uniform(-0.1, 0.1), a trainable initial state `input_h`
of shape (1, batch 64, hidden 100). So 3,750,000 + 68,100 + 6,400 + 202 = 3,824,702 parameters.

The GRU math is pinned here against a NumPy GRU in cuDNN's form (gates reset, update, new; the
reset gate after the recurrent matmul; two bias vectors) on a tiny input with the same weights.
That needs TensorFlow: on this host when its Python (or $DLBENCH_FRAMEWORK_PYTHON) has it,
else in the dlbench/tensorflow-2.21 image (engine). The cuDNN path cannot run without a GPU; its
weight buffer is checked against cuDNN's layout, and its training step is traced (a graph needs
no kernel) to show the op and its gradient are wired."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")
ADAPTER = os.path.join(TASKS, "rnn", "tensorflow.py")
PYTHON = os.environ.get("DLBENCH_FRAMEWORK_PYTHON") or sys.executable

sys.path.insert(0, TASKS)
from common import params  # noqa: E402
from conftest import HANG_S  # noqa: E402
from taskfiles import declared  # noqa: E402

TINY = {"max_features": 11, "embedding": 4, "hidden": 3, "batch_size": 2, "steps": 7}


def test_declared_parameter_count_is_the_2017_notebooks():
    p = params.RNN
    e, h, n = p["embedding"], p["hidden"], p["batch_size"]
    gru = 3 * (e * h + h * h + 2 * h)  # cuDNN form: two bias vectors
    assert gru == 68100
    assert declared("rnn", "tensorflow", "PARAMETERS") == 3824702 == (
        p["max_features"] * e + gru + n * h + h * p["n_classes"] + p["n_classes"])


# Runs in a Python with TensorFlow, tasks/ at argv[1]; prints one JSON line.
CHECK = r'''
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from frameworks import tensorflow as fw
fw.load()
mod = importlib.import_module("rnn.tensorflow")
fw.init("cpu", 0, "reference")
tf = mod.tf
from common import params
tiny = json.loads(sys.argv[2])
out = {}

p = params.for_task("rnn")
full = mod.build_model(p)
out["parameters"] = int(mod.count_parameters(full))
out["declared"] = mod.PARAMETERS
out["kernel"] = mod.SETTINGS["gru"]["kernel"]
out["init"] = {
    "gru_max": max(float(np.abs(v.numpy()).max()) for v in (
        full.gru_kernel, full.gru_recurrent, full.gru_bias_input, full.gru_bias_recurrent)),
    "embedding_max": float(np.abs(full.embedding.numpy()).max()),
    "initial_state_max": float(np.abs(full.initial_state.numpy()).max()),
    "initial_state_shape": list(full.initial_state.shape)}
del full

small = dict(p, max_features=tiny["max_features"], embedding=tiny["embedding"],
             hidden=tiny["hidden"], batch_size=tiny["batch_size"])
model = mod.build_model(small)
rng = np.random.RandomState(1)
weights = {}
for name in ("embedding", "gru_kernel", "gru_recurrent", "gru_bias_input",
             "gru_bias_recurrent", "initial_state"):
    var = getattr(model, name)
    weights[name] = rng.uniform(-0.5, 0.5, var.shape).astype(np.float32)
    var.assign(weights[name])
for i, name in enumerate(("fc_kernel", "fc_bias")):
    weights[name] = rng.uniform(-0.5, 0.5, model.fc[i].shape).astype(np.float32)
    model.fc[i].assign(weights[name])
x = rng.randint(0, tiny["max_features"], size=(tiny["batch_size"], tiny["steps"])).astype(np.int32)
out["weights"] = dict((k, v.tolist()) for k, v in weights.items())
out["x"] = x.tolist()
out["logits_eager"] = model(tf.constant(x)).numpy().tolist()
out["logits_graph"] = tf.function(lambda t: model(t))(tf.constant(x)).numpy().tolist()
out["cudnn_params"] = model.cudnn_params().numpy().tolist()
with tf.GradientTape() as tape:
    loss = tf.reduce_sum(model(tf.constant(x), training=True))
grads = tape.gradient(loss, model.trainable_variables)
out["zero_gradients"] = [v.name for v, g in zip(model.trainable_variables, grads)
                         if g is None or not np.any(tf.convert_to_tensor(g).numpy())]

model.cudnn = True  # the GPU path: traced, not run (a graph needs no kernel)
state = mod.build_trainer(model, small)
graph = state["step"].get_concrete_function(
    tf.TensorSpec([tiny["batch_size"], tiny["steps"]], tf.int32),
    tf.TensorSpec([tiny["batch_size"]], tf.int32)).graph
out["cudnn_graph_ops"] = sorted(set(op.type for op in graph.get_operations()
                                    if op.type.startswith("Cudnn")))
print(json.dumps(out))
'''


def numpy_gru_logits(w, x, hidden):
    """The reference: cuDNN's GRU in float64 NumPy, last output into the dense layer."""
    w = dict((k, np.asarray(v, dtype=np.float64)) for k, v in w.items())
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    e = w["embedding"][np.asarray(x)]  # (N, T, E)
    h = w["initial_state"]
    H = hidden
    for t in range(e.shape[1]):
        gx = e[:, t].dot(w["gru_kernel"]) + w["gru_bias_input"]
        gh = h.dot(w["gru_recurrent"]) + w["gru_bias_recurrent"]
        r = sig(gx[:, :H] + gh[:, :H])
        z = sig(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1.0 - z) * n + z * h
    return h.dot(w["fc_kernel"]) + w["fc_bias"]


def cudnn_layout(w, hidden):
    """cuDNN's GRU weight buffer: W_r, W_z, W_n, R_r, R_z, R_n, each (out, in) row by row,
    then b_Wr, b_Wz, b_Wn, b_Rr, b_Rz, b_Rn."""
    H = hidden
    kernel, recurrent = np.asarray(w["gru_kernel"]), np.asarray(w["gru_recurrent"])
    mats = [m[:, g * H:(g + 1) * H].T.ravel() for m in (kernel, recurrent) for g in range(3)]
    return np.concatenate(mats + [np.asarray(w["gru_bias_input"]),
                                  np.asarray(w["gru_bias_recurrent"])])


def check(out):
    assert out["parameters"] == out["declared"] == 3824702
    assert out["kernel"].startswith("graph loop: tf.foldl"), out["kernel"]
    init = out["init"]  # 2017: GRU uniform(-0.1, 0.1), input_h zeros, Glorot embedding
    assert 0.09 < init["gru_max"] <= 0.1
    assert 0.013 < init["embedding_max"] <= np.sqrt(6.0 / (30000 + 125))
    assert init["initial_state_max"] == 0.0 and init["initial_state_shape"] == [64, 100]
    want = numpy_gru_logits(out["weights"], out["x"], TINY["hidden"])
    np.testing.assert_allclose(out["logits_eager"], want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["logits_graph"], want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(out["cudnn_params"], np.float32),
                                  cudnn_layout(out["weights"], TINY["hidden"]).astype(np.float32))
    assert len(out["cudnn_params"]) == 3 * (4 * 3 + 3 * 3 + 2 * 3)
    assert out["zero_gradients"] == []  # the initial state learns, as 2017's input_h did
    assert out["cudnn_graph_ops"] == ["CudnnRNNBackpropV3", "CudnnRNNV3"]


def has_tensorflow():
    code = "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is None)"
    return subprocess.call([PYTHON, "-c", code]) == 0


def run_on_host(code):
    """The JSON line a check script (argv: tasks folder, sizes) prints, run by PYTHON here;
    skipped where that Python has no tensorflow."""
    if not has_tensorflow():
        pytest.skip("no tensorflow for %s (set DLBENCH_FRAMEWORK_PYTHON); the engine test "
                    "runs the same in the image" % PYTHON)
    proc = subprocess.run([PYTHON, "-c", code, TASKS, json.dumps(TINY)], capture_output=True,
                          text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return parse(proc.stdout)


def run_in_image(engine, code):
    """The same, run in the tensorflow-2.21 image (built or reused) with tasks/ mounted."""
    from harness.images import build
    from harness.core import catalog
    img = catalog.lookup(["tensorflow-2.21"])[0]
    built = build.ensure_built(img, echo=lambda *a, **k: None)
    logs = engine.containers.run(
        built.image_id, ["python3", "-c", code, "/tasks", json.dumps(TINY)],
        volumes={TASKS: {"bind": "/tasks", "mode": "ro"}}, network_mode="none",
        remove=True, stdout=True, stderr=False)
    return parse(logs.decode())


def parse(stdout):
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


@pytest.mark.slow
def test_gru_math_on_this_host():
    check(run_on_host(CHECK))


@pytest.mark.engine
@pytest.mark.slow
def test_gru_math_in_the_image(engine):
    check(run_in_image(engine, CHECK))


@pytest.mark.engine
@pytest.mark.slow
def test_tiny_run_in_the_image_records_the_gru_kernel(engine, tmp_path):
    """run.py end to end: the declared count is the model's, and the result says which GRU
    kernel ran (build_model fills SETTINGS["gru"] after the runner took its copy)."""
    from harness.images import build
    from harness.core import catalog
    img = catalog.lookup(["tensorflow-2.21"])[0]
    built = build.ensure_built(img, echo=lambda *a, **k: None)
    out = tmp_path / "out"
    out.mkdir()
    engine.containers.run(
        built.image_id, ["python3", "/tasks/run.py", "rnn", "--adapter", "tensorflow",
                         "--synthetic", "--epochs", "1", "--limit", "128",
                         "--out", "/out/result.json"],
        volumes={TASKS: {"bind": "/tasks", "mode": "ro"}, str(out): {"bind": "/out", "mode": "rw"}},
        user="%d:%d" % (os.getuid(), os.getgid()), network_mode="none", remove=True)
    r = json.load(open(str(out / "result.json")))
    assert r["status"] == "ok", r.get("reason")
    assert r["model"]["parameters"] == 3824702
    gru = r["env"]["adapter_settings"]["gru"]
    assert gru["kernel"].startswith("graph loop: tf.foldl") and "trainable" in gru["initial_state"]
