"""The TensorFlow RNN (tasks/rnn/tensorflow.py) in the tensorflow-2.21 image: the GRU math against
the NumPy GRU in cuDNN's form (tests/tasks/test_tensorflow_rnn.py runs the same on a host with
TensorFlow), and a tiny run.py run that records which GRU kernel ran."""
import json
import os

import pytest

from helpers import TASKS
from helpers.tensorflow_gru import TENSORFLOW_CHECK, check_tensorflow, run_in_image


@pytest.mark.engine
@pytest.mark.slow
def test_gru_math_in_the_image(engine):
    check_tensorflow(run_in_image(engine, TENSORFLOW_CHECK))


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
