"""The tensorflow1 adapter's GRU (TensorFlow 1's program through tf.compat.v1 on TensorFlow 2).

2017's Tensorflow_RNN notebook (TensorFlow 1.4): cuDNN's GRU, time-major, weights uniform(-0.1,
0.1), a trainable initial state `input_h` of shape (1, batch 64, hidden 100): 3,824,702
parameters, tasks/rnn/tensorflow.py's count. Here, in a graph and a Session: the count, the
initialisation, the CPU loop's logits against the NumPy GRU in cuDNN's form that
tests/test_tensorflow_rnn.py pins the tensorflow adapter with (same weights), a gradient for
every variable (the initial state learns), and the GPU path built (not run: no GPU here) to show
cuDNN's op and its gradient are wired to one 68,100-value buffer. Needs TensorFlow: on this host
when its Python (or $DLBENCH_FRAMEWORK_PYTHON) has it, else in the dlbench/tensorflow-2.21 image."""

import numpy as np
import pytest

from test_tensorflow_rnn import TINY, numpy_gru_logits, run_in_image, run_on_host


# Runs in a Python with TensorFlow, tasks/ at argv[1]; prints one JSON line.
CHECK = r'''
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


def check(out):
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


@pytest.mark.slow
def test_graph_gru_on_this_host():
    check(run_on_host(CHECK))


@pytest.mark.engine
@pytest.mark.slow
def test_graph_gru_in_the_image(engine):
    check(run_in_image(engine, CHECK))
