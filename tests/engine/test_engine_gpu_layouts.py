"""The channels-first programs 2017 ran on its GPUs, checked forward on this CPU (issue 26,
point 7): Tensorflow_CNN's tf.layers and Keras_TF_CNN set channels_first, Tensorflow_MultiGPU's
slim DenseNet data_format="NCHW". The task files build them where fw.DEVICE["layout"] is NCHW
(a GPU run: runtime/adapters.py layout_on). Training cannot run here (TensorFlow's CPU has no
NCHW max-pool gradient); the forward pass and the weight mapping can: the same canonical
weights in both layouts give the same outputs and export back unchanged. What runs on a GPU is
checked on the day one is lent (bench/gpu_paths.py has no TensorFlow: see DEVELOPERS.md)."""
import numpy as np
import pytest

from helpers.layouts import run_layout_check

CHANNELS_FIRST_ON_GPU = [
    ("tensorflow-2.21", "cnn", "tensorflow", "reference"),
    ("tensorflow-2.21", "cnn", "tensorflow1", "graph"),
    ("tensorflow-2.21", "densenet", "tensorflow", "reference"),
    ("keras-3.15", "cnn", "keras3", "tensorflow"),
    ("keras-3.15", "cnn", "keras3", "jax"),
    ("keras-3.15", "cnn", "keras3", "torch"),
]


@pytest.mark.engine
@pytest.mark.parametrize("image_name,task,adapter,variant", CHANNELS_FIRST_ON_GPU,
                         ids=["-".join(c[1:]) for c in CHANNELS_FIRST_ON_GPU])
def test_the_gpu_layout_computes_what_the_cpu_layout_does(engine, image_name, task, adapter,
                                                          variant):
    r = run_layout_check(engine, image_name, task, adapter, variant)
    assert r["declared"]["layout_gpu"] == "NCHW" and r["settings_layout"] == "NHWC"  # a CPU run
    nhwc, nchw = np.array(r["NHWC"]["output"]), np.array(r["NCHW"]["output"])
    assert nhwc.shape == nchw.shape and nhwc.shape[0] == 2
    assert np.abs(nhwc).max() > 0.1  # the outputs carry the weights, not a constant
    np.testing.assert_allclose(nchw, nhwc, rtol=1e-4, atol=1e-5)
    assert r["NHWC"]["export_mismatch"] == [] and r["NCHW"]["export_mismatch"] == []
    if adapter == "keras3":
        assert (r["NHWC"]["data_format"], r["NCHW"]["data_format"]) == ("channels_last",
                                                                        "channels_first")


KERAS_DENSENET_CHANNELS_FIRST = r'''
import keras
keras.config.set_image_data_format("channels_first")
try:
    keras.applications.DenseNet121(include_top=False, weights=None, input_shape=(3, 32, 32))
    print("built")
except ValueError as e:
    print("refused:", e)
'''


@pytest.mark.engine
def test_keras3_densenet_cannot_be_channels_first(engine):
    """Keras_TF_MultiGPU set channels_first; Keras 3's applications.DenseNet121 refuses it, so the
    keras3 DenseNet column stays channels-last on a GPU (the row's note). When a Keras release
    builds it, this fails: declare layout_gpu in tasks/densenet/keras3.py then."""
    from harness.core import catalog
    from harness.images import build
    built = build.ensure_built(catalog.lookup(["keras-3.15"])[0], echo=lambda *a, **k: None)
    out = engine.containers.run(built.image_id, ["python3", "-c", KERAS_DENSENET_CHANNELS_FIRST],
                                network_mode="none", remove=True, stdout=True, stderr=False,
                                environment={"KERAS_BACKEND": "tensorflow"}).decode()
    assert "refused:" in out and "channels_first" in out, out
