"""CNN (VGG-style, CIFAR-10) in TensorFlow 2.

Plain TensorFlow: variables in a tf.Module, tf.nn ops, and the training step compiled to a graph
by tf.function (TensorFlow's own fast path); no Keras, which has its own column (keras3).
TensorFlow's CPU convolutions are NHWC, so init() asks the runner for NHWC images. Model as in
the 2017 benchmark's CNN notebooks; sizes in common/params.py.
"""
import os

import numpy as np

# tuned: TensorFlow's oneDNN CPU kernels, chosen when tensorflow is imported (run.py names the
# variant first). TF >= 2.9 turns them on by default only on CPUs with AVX512_VNNI, AVX512_BF16
# or AMX (TF 2.9 release notes); on others, such as an AVX2-only EPYC, the default is off.
if os.environ.get("DLBENCH_VARIANT") == "tuned":
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
import tensorflow as tf  # noqa: E402  (after TF_ENABLE_ONEDNN_OPTS)

FRAMEWORK = "tensorflow"
VARIANTS = ("reference", "tuned")  # tuned: oneDNN kernels on (XLA was slower here)
_DEV = {"gpu": False}


def framework_version():
    return tf.__version__


def _onednn_on():
    """Whether this process runs TensorFlow's oneDNN kernels (None where TF cannot say)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def probe():
    build = tf.sysconfig.get_build_info()
    info = {"cuda": build.get("cuda_version"), "cudnn": build.get("cudnn_version"),
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}}
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        info["gpu"] = details.get("device_name")
        if details.get("compute_capability"):
            info["gpu_compute_capability"] = "%d.%d" % details["compute_capability"]
    return info


def init(device, seed, variant):
    if variant not in VARIANTS:
        raise ValueError("variant %r unknown; tensorflow offers %s"
                         % (variant, ", ".join(VARIANTS)))
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise RuntimeError("--device gpu, but TensorFlow %s sees no CUDA GPU: use --device cpu, "
                           "the CUDA build of the image, or a host with a GPU and the NVIDIA "
                           "container runtime" % tf.__version__)
    if device == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")
    onednn = _onednn_on()
    if variant == "tuned" and onednn is False:
        raise RuntimeError("variant tuned: tensorflow was imported before TF_ENABLE_ONEDNN_OPTS "
                           "was set; run it through run.py")
    tf.random.set_seed(seed)
    _DEV["gpu"] = device == "gpu"
    return {"layout": "NHWC",
            "onednn": onednn}


def _glorot(shape, fan_in, fan_out):
    # Glorot-uniform weights (the 2017 Keras default every framework matched).
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.Variable(tf.random.uniform(shape, -limit, limit, dtype=tf.float32))


def _conv(k, cin, cout):
    return (_glorot([k, k, cin, cout], k * k * cin, k * k * cout), tf.Variable(tf.zeros([cout])))


def _dense(cin, cout):
    return (_glorot([cin, cout], cin, cout), tf.Variable(tf.zeros([cout])))


def _conv2d(x, layer):
    return tf.nn.bias_add(tf.nn.conv2d(x, layer[0], 1, "SAME"), layer[1])  # 'same' padding


class VGGStyleCNN(tf.Module):
    def __init__(self, p):
        super(VGGStyleCNN, self).__init__()
        c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
        self.conv1 = _conv(k, p["channels"], c1)
        self.conv2 = _conv(k, c1, c1)
        self.conv3 = _conv(k, c1, c2)
        self.conv4 = _conv(k, c2, c2)
        flat = c2 * (p["height"] // 4) * (p["width"] // 4)
        self.fc1 = _dense(flat, p["dense_units"])
        self.fc2 = _dense(p["dense_units"], p["n_classes"])
        self.drop_conv = p["dropout_conv"]
        self.drop_dense = p["dropout_dense"]
        self.pool = p["pool"]

    def __call__(self, x, training):
        def drop(x, rate):
            return tf.nn.dropout(x, rate) if training else x
        x = tf.nn.relu(_conv2d(x, self.conv1))
        x = tf.nn.relu(tf.nn.max_pool2d(_conv2d(x, self.conv2), self.pool, self.pool, "VALID"))
        x = drop(x, self.drop_conv)
        x = tf.nn.relu(_conv2d(x, self.conv3))
        x = tf.nn.relu(tf.nn.max_pool2d(_conv2d(x, self.conv4), self.pool, self.pool, "VALID"))
        x = drop(x, self.drop_conv)
        x = tf.reshape(x, [tf.shape(x)[0], -1])  # NHWC flatten order
        x = drop(tf.nn.relu(tf.matmul(x, self.fc1[0]) + self.fc1[1]), self.drop_dense)
        return tf.matmul(x, self.fc2[0]) + self.fc2[1]  # logits: softmax lives in the loss


def build_model(p):
    with tf.device("/GPU:0" if _DEV["gpu"] else "/CPU:0"):
        return VGGStyleCNN(p)


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_variables)


def build_trainer(model, p):
    weights = model.trainable_variables
    velocity = [tf.Variable(tf.zeros_like(w), trainable=False) for w in weights]
    lr, momentum = tf.constant(p["lr"], tf.float32), tf.constant(p["momentum"], tf.float32)

    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # dropout on
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=logits))
        grads = tape.gradient(loss, weights)
        for w, v, g in zip(weights, velocity, grads):
            # SGD with momentum, the fused kernel TensorFlow's optimisers use:
            # v = momentum * v + g; w -= lr * v (PyTorch's form)
            tf.raw_ops.ResourceApplyMomentum(var=w.handle, accum=v.handle, lr=lr, grad=g,
                                             momentum=momentum)
        return loss

    def classes(x):
        return tf.argmax(model(x, training=False), axis=1, output_type=tf.int32)

    # tf.function traces each step once into a graph (compiled during the runner's warm-up)
    return {"model": model, "velocity": velocity,
            "step": tf.function(step),
            "classes": tf.function(classes)}


def _tensor(array):
    return tf.convert_to_tensor(np.ascontiguousarray(array))  # copied to the GPU by the step


def train_step(state, x, y):
    return state["step"](_tensor(x), _tensor(y.astype(np.int32)))


def to_float(loss):
    return float(loss.numpy())


def predict(state, x):
    return state["classes"](_tensor(x)).numpy()


def sync(state):
    if _DEV["gpu"]:
        tf.test.experimental.sync_devices()
