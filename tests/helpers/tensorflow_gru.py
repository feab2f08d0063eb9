"""The GRU checks the TensorFlow RNN task files are held to (tasks/rnn/tensorflow.py,
tensorflow1.py): each check script runs in a Python with TensorFlow (tasks/ at argv[1], the tiny
sizes at argv[2]) and prints one JSON line, on this host (tests/tasks/) or in the
tensorflow-2.21 image (tests/engine/); check_* asserts on what it printed. The reference is a
NumPy GRU in cuDNN's form (2017's Tensorflow_RNN notebook: cuDNN's GRU, time-major, a trainable
initial state)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import HANG_S, TASKS

PYTHON = os.environ.get("DLBENCH_FRAMEWORK_PYTHON") or sys.executable
TINY = {"max_features": 11, "embedding": 4, "hidden": 3, "batch_size": 2, "steps": 7}


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


# tasks/rnn/tensorflow.py
TENSORFLOW_CHECK = r'''
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


def check_tensorflow(out):
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


# tasks/rnn/tensorflow1.py (TensorFlow 1's program through tf.compat.v1)
TENSORFLOW1_CHECK = r'''
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from frameworks import tensorflow1 as fw
fw.load()
mod = importlib.import_module("rnn.tensorflow1")
fw.init("cpu", 0, "graph")
tf = fw.tf
from common import params
tiny = json.loads(sys.argv[2])
out = {"eager": bool(tf.executing_eagerly())}

p = params.for_task("rnn")
with tf.Graph().as_default():
    full = mod.build_model(p)
    out["parameters"] = int(mod.count_parameters(full))
    out["declared"] = mod.PARAMETERS
    out["kernel"] = mod.SETTINGS["gru"]["kernel"]
    sess = fw.session()
    sess.run(tf.global_variables_initializer())
    values = dict((v.op.name, sess.run(v)) for v in full["weights"])
    out["names"] = sorted(values)
    out["init"] = {
        "gru_max": max(float(np.abs(v).max()) for k, v in values.items() if "/gru/" in k),
        "embedding_max": float(np.abs(values["rnn/embedding"]).max()),
        "initial_state_max": float(np.abs(values["rnn/input_h"]).max()),
        "initial_state_shape": list(values["rnn/input_h"].shape)}

small = dict(p, max_features=tiny["max_features"], embedding=tiny["embedding"],
             hidden=tiny["hidden"], batch_size=tiny["batch_size"], maxlen=tiny["steps"])
NAMES = {"rnn/embedding": "embedding", "rnn/gru/kernel": "gru_kernel",
         "rnn/gru/recurrent_kernel": "gru_recurrent", "rnn/gru/bias_input": "gru_bias_input",
         "rnn/gru/bias_recurrent": "gru_bias_recurrent", "rnn/input_h": "initial_state",
         "rnn/output/kernel": "fc_kernel", "rnn/output/bias": "fc_bias"}
with tf.Graph().as_default():
    model = mod.build_model(small)
    state = mod.build_trainer(model, small)
    sess = state["session"]
    rng = np.random.RandomState(1)
    weights = {}
    for var in model["weights"]:
        value = rng.uniform(-0.5, 0.5, var.get_shape().as_list()).astype(np.float32)
        var.load(value, sess)
        weights[NAMES[var.op.name]] = (value[0] if var.op.name == "rnn/input_h" else value).tolist()
    x = rng.randint(0, tiny["max_features"], size=(tiny["batch_size"], tiny["steps"]))
    out["weights"], out["x"] = weights, x.tolist()
    out["logits"] = sess.run(model["logits"], {model["x"]: x}).tolist()
    grads = sess.run(tf.gradients(tf.reduce_sum(model["logits"]), model["weights"]),
                     {model["x"]: x})
    out["zero_gradients"] = [v.op.name for v, g in zip(model["weights"], grads)
                             if not np.any(np.asarray(getattr(g, "values", g)))]
    out["predict"] = mod.predict(state, x).tolist()  # the weights above, before training
    y = np.zeros(tiny["batch_size"], np.int32)
    losses = [float(mod.train_step(state, x, y)) for _ in range(5)]
    out["loss_falls"] = losses[-1] < losses[0]

fw.DEVICE["gpu"] = True  # the GPU path: built, not run (a graph needs no kernel)
with tf.Graph().as_default():
    model = mod.build_model(small)
    out["cudnn_kernel"] = mod.SETTINGS["gru"]["kernel"]
    out["cudnn_parameters"] = int(mod.count_parameters(model))
    out["cudnn_weights"] = sorted(v.op.name for v in model["weights"])
    tf.gradients(tf.reduce_sum(model["logits"]), model["weights"])
    out["cudnn_graph_ops"] = sorted(set(op.type for op in tf.get_default_graph().get_operations()
                                        if op.type.startswith("Cudnn")))
print(json.dumps(out))
'''


def check_tensorflow1(out):
    assert out["eager"] is False  # TensorFlow 1's graph mode
    assert out["parameters"] == out["declared"] == 3824702
    assert out["kernel"].startswith("graph loop: tf.foldl"), out["kernel"]
    init = out["init"]  # 2017: GRU uniform(-0.1, 0.1), input_h zeros, Glorot embedding
    # (the limit as a float32, 0.10000000149: a draw just below 0.1 rounds up to it)
    assert 0.09 < init["gru_max"] <= float(np.float32(0.1))
    # (the Glorot limit, as a float32: TensorFlow computes it in float32)
    assert 0.013 < init["embedding_max"] <= np.sqrt(6.0 / (30000 + 125)) + 1e-7
    assert init["initial_state_max"] == 0.0 and init["initial_state_shape"] == [1, 64, 100]
    want = numpy_gru_logits(out["weights"], out["x"], TINY["hidden"])
    np.testing.assert_allclose(out["logits"], want, rtol=0, atol=1e-5)
    assert out["zero_gradients"] == []  # the initial state learns, as 2017's input_h did
    assert out["loss_falls"]
    assert out["predict"] == [int(c) for c in np.argmax(want, axis=1)]
    # GPU: one buffer of every GRU weight and bias, 68,100 values at full size (2017's params)
    h, e = TINY["hidden"], TINY["embedding"]
    assert out["cudnn_kernel"].startswith("cuDNN: the CudnnRNN op")
    assert "rnn/gru/params" in out["cudnn_weights"] and "rnn/gru/kernel" not in out["cudnn_weights"]
    small = TINY["max_features"] * e + 3 * (e * h + h * h) + 6 * h + TINY["batch_size"] * h + \
        h * 2 + 2
    assert out["cudnn_parameters"] == small
    assert out["cudnn_graph_ops"] == ["CudnnRNN", "CudnnRNNBackprop"]
