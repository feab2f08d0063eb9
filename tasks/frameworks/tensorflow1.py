"""TensorFlow 1's program shape: what every tensorflow1 task file shares.

The 2017 benchmark's Tensorflow_CNN, Tensorflow_RNN and Tensorflow_Inference notebooks
(ilkarman/DeepLearningFrameworks, TensorFlow 1.4.0) built one static graph (tf.placeholder
inputs, variables from tf.get_variable), opened a tf.Session, initialised the variables and
ran each step with sess.run(..., feed_dict). The task files here do the same, with only the
TensorFlow 1.4 API, reached as:
  * TensorFlow 1.x (the 2017 image, images/tensorflow): `tensorflow` itself;
  * TensorFlow 2.x (images/tensorflow-2.21): `tensorflow.compat.v1`, after
    tf.compat.v1.disable_v2_behavior() (graph mode, reference variables, TensorFlow 1 control
    flow), so the TensorFlow 1 code path is what runs and is measured.
The task files read that module as `fw.tf`. The tensorflow adapter (frameworks/tensorflow.py)
is the TensorFlow 2 program (eager variables, tf.function); both stand beside 2017's Tensorflow
row. The host imports this module without TensorFlow: tensorflow is imported by load().
"""
import os

NAME = "tensorflow"
PACKAGES = ("tensorflow",)
# One variant: the TensorFlow 1 program with TensorFlow's defaults (no environment set; on
# TensorFlow 2 oneDNN is on or off as TensorFlow decides for this CPU, recorded by init).
VARIANTS = [
    {"name": "graph", "doc": "TensorFlow 1 program: placeholders, a Session, feed_dict "
                             "(tf.compat.v1 on TensorFlow 2), NHWC",
     "env": {}, "row": "Tensorflow"},
]
# layout: the task file's image layout on this device, set by runtime/adapters.py start
DEVICE = {"gpu": False, "layout": "NHWC"}
tf = None          # TensorFlow 1's API (tensorflow, or tensorflow.compat.v1 on TensorFlow 2)
tensorflow = None  # the package itself
CONFIG = {}        # tf.ConfigProto arguments for every Session, set by init


def load():
    global tf, tensorflow
    import tensorflow
    tf = tensorflow.compat.v1 if major() >= 2 else tensorflow
    # TensorFlow 2's notices that TensorFlow 1 calls are deprecated stay off the progress stream
    tf.logging.set_verbosity(tf.logging.ERROR)
    if major() >= 2:
        tf.disable_v2_behavior()  # graph mode and TensorFlow 1 semantics, before any graph


def version():
    return tensorflow.__version__


def probe():
    info = {"cuda": None, "cudnn": None,
            # 0: TensorFlow picks (one thread per core), as tf.Session() did in 2017
            "threads": {"intra_op": CONFIG.get("intra_op_parallelism_threads", 0),
                        "inter_op": CONFIG.get("inter_op_parallelism_threads", 0)},
            "api": "tensorflow.compat.v1" if major() >= 2 else "tensorflow",
            "built_with_cuda": bool(tf.test.is_built_with_cuda())}
    sysconfig = getattr(tensorflow, "sysconfig", None)
    if hasattr(sysconfig, "get_build_info"):  # TensorFlow >= 2.3
        build = sysconfig.get_build_info()
        info["cuda"], info["cudnn"] = build.get("cuda_version"), build.get("cudnn_version")
    gpus = gpu_devices()
    if gpus:
        # physical_device_desc: "device: 0, name: Tesla P100-PCIE-16GB, pci bus id: ...,
        # compute capability: 6.0"
        desc = dict(part.strip().split(": ", 1) for part in gpus[0].physical_device_desc
                    .split(",") if ": " in part)
        info["gpu"] = desc.get("name")
        info["gpu_compute_capability"] = desc.get("compute capability")
    return info


def init(device, seed, variant):
    gpus = gpu_devices()
    if device == "gpu" and not gpus:
        raise RuntimeError("--device gpu, but TensorFlow %s sees no CUDA GPU: use --device cpu, "
                           "the CUDA build of the image, or a host with a GPU and the NVIDIA "
                           "container runtime" % tensorflow.__version__)
    CONFIG.clear()
    if device == "cpu":
        CONFIG["device_count"] = {"GPU": 0}  # the Session sees no GPU
    tf.set_random_seed(seed)  # the graph-level seed of the default graph the task files build
    DEVICE["gpu"] = device == "gpu"
    from frameworks import tensorflow as tf2_module  # the same oneDNN probe as the tf2 adapter
    return {"onednn": tf2_module.onednn_on(), "precision": true_fp32(),
            "api": "tensorflow.compat.v1 (v2 behaviour off)" if major() >= 2 else "tensorflow",
            "session_config": dict(CONFIG)}


def major():
    return int(tensorflow.__version__.split(".")[0])


def gpu_devices():
    """The GPUs TensorFlow can place ops on (device_lib: in TensorFlow 1.4 and 2.x alike)."""
    from tensorflow.python.client import device_lib
    return [d for d in device_lib.list_local_devices() if d.device_type == "GPU"]


def session():
    """A tf.Session on the default graph, with init's configuration."""
    return tf.Session(config=tf.ConfigProto(**CONFIG))


def device():
    """The device the task files place their graph on."""
    return "/gpu:0" if DEVICE["gpu"] else "/cpu:0"


def true_fp32():
    """Pin true fp32, as the 2017 K80/P100 ran: TensorFlow >= 2.4 uses TF32 on Ampere and newer
    GPUs by default (a process-wide switch that Sessions follow too); TensorFlow 1.4 predates
    TF32. Returns what is in effect."""
    from frameworks import tensorflow as tf2_module
    fpmath = dict((k, os.environ.get(k)) for k in tf2_module.FPMATH_ENV)
    experimental = getattr(getattr(tensorflow, "config", None), "experimental", None)
    if experimental is None or not hasattr(experimental, "enable_tensor_float_32_execution"):
        return {"dtype": "float32", "tf32": None, "onednn_fpmath_env": fpmath}
    experimental.enable_tensor_float_32_execution(False)
    return {"dtype": "float32", "tf32": experimental.tensor_float_32_execution_enabled(),
            "onednn_fpmath_env": fpmath}


def gemm(n):
    """The peak probe's product (measure/peak.py): (matmul, wait, method) for an n x n float32
    matrix product on the run's device."""
    graph = tf.Graph()
    with graph.as_default(), graph.device(device()):
        a = tf.Variable(tf.random_normal([n, n], seed=1))
        b = tf.Variable(tf.random_normal([n, n], seed=2))
        c = tf.Variable(tf.zeros([n, n]))
        # assigned to a variable: computed, never copied to the host, and not pruned (a
        # matmul whose only consumer is a control dependency, tf.group, is optimised away)
        product = tf.assign(c, tf.matmul(a, b)).op
        init_op = tf.global_variables_initializer()
    sess = tf.Session(graph=graph, config=tf.ConfigProto(**CONFIG))  # the run's threads
    sess.run(init_op)
    # Session.run returns once the product is done
    return (lambda: sess.run(product), lambda out: None,
            "tf.matmul assigned to a variable in a Session (graph), %s" % device())
