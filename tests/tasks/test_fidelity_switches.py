"""The switches 2017's notebooks set that change what a row measures, many of them GPU-only
(no GPU has run here): each is checked in the program as it would run, read from the task and
framework files with ast (issue 26). The notebooks: ilkarman/DeepLearningFrameworks at 671e2a0,
notebooks/."""
import ast
import os

from helpers import TASKS


def calls_in(path, function):
    """Every call in `function` of the file at path, as source text."""
    with open(path) as f:
        source = f.read()
    tree = ast.parse(source, path)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return [ast.get_source_segment(source, n) for n in ast.walk(node)
                    if isinstance(n, (ast.Call, ast.Assign))]
    raise AssertionError("%s has no %s()" % (path, function))


def test_chainer_densenet_switches_are_chainer_multigpus():
    """Chainer_MultiGPU cell 3: set_max_workspace_size(512 MB), type_check = False (and
    autotune, which frameworks/chainer.py init sets on a GPU for every task)."""
    found = calls_in(os.path.join(TASKS, "densenet", "chainer.py"), "start_devices")
    assert "chainer.global_config.type_check = False" in found
    assert "chainer.backends.cuda.set_max_workspace_size(512 * 1024 * 1024)" in found


def test_chainer_inference_does_not_autotune():
    """Chainer_Inference set no autotune (Chainer_CNN and Chainer_MultiGPU did)."""
    found = calls_in(os.path.join(TASKS, "inference", "chainer.py"), "build_model")
    assert "chainer.global_config.autotune = False" in found
    init = calls_in(os.path.join(TASKS, "frameworks", "chainer.py"), "init")
    assert "chainer.global_config.autotune = True" in init  # the CNN's and DenseNet's


def test_the_check_reads_what_a_function_does(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("def f():\n    g(1)\n    a.b = False\n")
    assert sorted(calls_in(str(path), "f")) == ["a.b = False", "g(1)"]
    assert "g(2)" not in calls_in(str(path), "f")


def test_caffe2_searches_cudnn_algorithms_only_where_2017_did():
    """Caffe2_CNN's arg scope asked for cudnn_exhaustive_search; Caffe2_Inference loaded the
    model zoo's ResNet-50 net as stored, without it."""
    cnn = calls_in(os.path.join(TASKS, "cnn", "caffe2.py"), "_arg_scope")
    inference = calls_in(os.path.join(TASKS, "inference", "caffe2.py"), "build_model")
    assert any("cudnn_exhaustive_search=True" in c for c in cnn)
    assert "scope.update(use_cudnn=True)" in inference
    assert not any("exhaustive" in c for c in inference)


def test_mxnet_inference_keeps_the_features_on_the_device():
    """MXNet_Inference kept each batch's features in an NDArray on its context and waited once
    (nd.waitall); Gluon_Inference copied once at the end. A copy per batch (asnumpy) would block
    MXNet's asynchronous engine every batch on a GPU."""
    predict = calls_in(os.path.join(TASKS, "inference", "mxnet.py"), "predict")
    assert not any("asnumpy" in c for c in predict)
    assert "mx.nd.waitall()" in calls_in(os.path.join(TASKS, "inference", "mxnet.py"), "sync")


def test_the_protocol_copies_a_device_array_after_the_clock():
    """protocol.infer's host copy of the last batch (after the clock) takes an array that has
    its own host copy (MXNet's NDArray.asnumpy) as well as numpy."""
    import sys
    import numpy as np
    sys.path.insert(0, TASKS)
    from runtime import protocol

    class DeviceArray(object):
        def __init__(self, a):
            self.a = a

        def asnumpy(self):
            return np.array(self.a)

    class Adapter(object):
        def predict(self, model, x):
            return DeviceArray(np.zeros((len(x), 2048), np.float32))

        def sync(self, model):
            pass

    timings, features, n = protocol.infer(Adapter(), None, np.zeros((64, 3, 4, 4), np.float32),
                                          {"batch_size": 32})
    assert (timings["batches"], features, n) == (2, 2048, 64)
    assert timings["unsynced_seconds"] >= 0


def test_mxnet_reference_variants_run_the_tabled_notebooks_program():
    """MXNet_CNN and MXNet_RNN updated an accuracy metric every batch (update_metric waits for
    the forward); MXNet_RNN fed batch-major (NTC) batches to an NTC-unrolled FusedRNNCell and
    Gluon_RNN's Block was never hybridized. The -tuned variants run the faster forms."""
    for task in ("cnn", "rnn"):
        step = calls_in(os.path.join(TASKS, task, "mxnet.py"), "train_step")
        assert 'model.update_metric(state["metric"], batch.label)' in step, task
    rnn = os.path.join(TASKS, "rnn", "mxnet.py")
    with open(rnn) as f:
        source = f.read()
    assert "gru.unroll(p[\"maxlen\"], inputs=x, merge_outputs=False)" in source  # NTC default
    assert 'layout="TNC" if self.time_major else "NTC"' in source
    tree = ast.parse(source)
    build = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build_model"][0]
    hybridize = [n for n in ast.walk(build) if isinstance(n, ast.If)
                 and "hybridize" in ast.dump(n) and "tuned" in ast.dump(n.test)]
    assert hybridize, "the Gluon RNN hybridizes only in the -tuned variants"
    fw = os.path.join(TASKS, "frameworks", "mxnet.py")
    assert 'DEVICE["tuned"] = variant.endswith("-tuned")' in calls_in(fw, "init")


def source_of(*parts):
    with open(os.path.join(TASKS, *parts)) as f:
        return f.read()


def test_densenet_loaders_are_their_notebooks():
    """Keras_TF_MultiGPU: flow_from_directory(target_size=224) resized (nearest) as it loaded,
    so its random crop of a 224 image did nothing: resize + flip. Tensorflow_MultiGPU:
    prefetch(10). Chainer_MultiGPU: MultiprocessIterator(n_prefetch=10), CPU_COUNT processes on
    one GPU, 2 per GPU on several."""
    keras = calls_in(os.path.join(TASKS, "densenet", "keras3.py"), "make_loader")
    assert 'tf.image.resize(image, size, method="nearest")' in keras
    assert not any("random_crop" in c for c in keras)
    assert any("random_flip_left_right" in c for c in keras)
    tf_loader = calls_in(os.path.join(TASKS, "densenet", "tensorflow.py"), "make_loader")
    assert sum("prefetch(10)" in c for c in tf_loader) >= 2
    assert "n_prefetch=10" in source_of("densenet", "chainer.py")
    rule = calls_in(os.path.join(TASKS, "densenet", "chainer.py"), "_loader_processes")
    assert 'want = (cpus or 1) if p["devices"] == 1 else 2 * p["devices"]' in rule


# point 7: the layouts 2017 set on its GPUs. Tensorflow_CNN: tf.layers data_format=
# 'channels_first'; Keras_TF_CNN: K.set_image_data_format('channels_first'); Tensorflow_MultiGPU:
# slim densenet_arg_scope(data_format="NCHW"). Tensorflow_Inference and Keras_TF_Inference stayed
# channels-last; Keras_TF_MultiGPU's channels_first is refused by Keras 3's DenseNet121
# (tests/engine/test_engine_gpu_layouts.py).
CHANNELS_FIRST_ON_GPU = {("cnn", "tensorflow"), ("cnn", "tensorflow1"), ("cnn", "keras3"),
                         ("densenet", "tensorflow"),
                         ("cnn", "rkeras")}  # KerasR_TF_CNN: set_image_data_format



def test_the_task_files_declare_2017s_gpu_layouts():
    from helpers.taskfiles import declared
    found = set()
    for task in ("cnn", "rnn", "inference", "densenet"):
        for name in os.listdir(os.path.join(TASKS, task)):
            adapter = name[:-3]
            if name.endswith(".py") and name != "__init__.py":
                settings = declared(task, adapter, "SETTINGS", {})
                if "layout_gpu" in settings:
                    assert settings["layout"] == "NHWC" and settings["layout_gpu"] == "NCHW"
                    found.add((task, adapter))
    assert found == CHANNELS_FIRST_ON_GPU


def test_a_gpu_run_records_and_builds_the_gpu_layout():
    """runtime/adapters.py task_settings: the layout recorded, fed (run.py reads settings) and
    told to the task file (fw.DEVICE) is the device's; the declaration itself is not recorded."""
    import sys
    import types
    sys.path.insert(0, TASKS)
    from runtime import adapters
    module = types.SimpleNamespace(SETTINGS={"layout": "NHWC", "layout_gpu": "NCHW"})
    for device, layout in (("cpu", "NHWC"), ("gpu", "NCHW")):
        fw = types.SimpleNamespace(DEVICE={"gpu": device == "gpu"})
        settings = adapters.task_settings(fw, module, device, {"onednn": True})
        assert settings == {"onednn": True, "layout": layout}
        assert fw.DEVICE["layout"] == layout
    plain = types.SimpleNamespace(SETTINGS={"layout": "NCHW"})
    assert adapters.layout_on(plain.SETTINGS, "gpu") == "NCHW"
    assert adapters.layout_on({"layout": "NTC"}, "cpu") == "NTC"
