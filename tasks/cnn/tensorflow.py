"""CNN (VGG-style, CIFAR-10) in TensorFlow 2.

Plain TensorFlow: variables in a tf.Module, tf.nn ops, and the training step compiled to a graph
by tf.function (TensorFlow's own fast path); no Keras, which has its own column (keras3).
Channels-first (NCHW) on a GPU, as 2017's Tensorflow_CNN notebook built its tf.layers
(data_format='channels_first'); NHWC on the CPU, where TensorFlow has no NCHW max-pool gradient.
Model as in the 2017 benchmark's CNN notebooks; sizes in common/params.py.
"""
import numpy as np
import tensorflow as tf

from common import canonical
from frameworks import tensorflow as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "layout_gpu": "NCHW"}  # fw.DEVICE["layout"]: the one in effect


def _glorot(shape, fan_in, fan_out):
    # Glorot-uniform weights, zero biases: tf.layers' defaults, which the 2017 Tensorflow_CNN
    # notebook used (PyTorch's column keeps PyTorch's own defaults, as its notebook did).
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.Variable(tf.random.uniform(shape, -limit, limit, dtype=tf.float32))


def _conv(k, cin, cout):
    return (_glorot([k, k, cin, cout], k * k * cin, k * k * cout), tf.Variable(tf.zeros([cout])))


def _dense(cin, cout):
    return (_glorot([cin, cout], cin, cout), tf.Variable(tf.zeros([cout])))


def _conv2d(x, layer, layout):
    return tf.nn.bias_add(tf.nn.conv2d(x, layer[0], 1, "SAME", data_format=layout), layer[1],
                          data_format=layout)  # 'same' padding; kernels HWIO in both layouts


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
        self.layout = fw.DEVICE["layout"]

    def __call__(self, x, training):
        def drop(x, rate):
            return tf.nn.dropout(x, rate) if training else x

        def pool(x):
            return tf.nn.max_pool2d(x, self.pool, self.pool, "VALID", data_format=self.layout)
        x = tf.nn.relu(_conv2d(x, self.conv1, self.layout))
        x = tf.nn.relu(pool(_conv2d(x, self.conv2, self.layout)))
        x = drop(x, self.drop_conv)
        x = tf.nn.relu(_conv2d(x, self.conv3, self.layout))
        x = tf.nn.relu(pool(_conv2d(x, self.conv4, self.layout)))
        x = drop(x, self.drop_conv)
        x = tf.reshape(x, [tf.shape(x)[0], -1])  # flattened in the layout's order
        x = drop(tf.nn.relu(tf.matmul(x, self.fc1[0]) + self.fc1[1]), self.drop_dense)
        return tf.matmul(x, self.fc2[0]) + self.fc2[1]  # logits: softmax lives in the loss


def build_model(p):
    with tf.device("/GPU:0" if fw.DEVICE["gpu"] else "/CPU:0"):
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
    if fw.DEVICE["gpu"]:
        tf.test.experimental.sync_devices()


# model equivalence (`dlbench check-models`, common/canonical.py): kernels HWIO and dense
# (in, out) here, OIHW and (out, in) there; on NHWC fc1 reads the NHWC-flattened map, so its
# inputs are permuted from the canonical NCHW order

_LAYERS = ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2")  # each a [kernel, bias] pair


def _chw(m):
    return canonical.cnn_flat_shape(int(m.fc1[0].shape[0]), int(m.conv4[1].shape[0]))


def export_params(state):
    m, out = state["model"], {}
    for name in _LAYERS:
        kernel, bias = getattr(m, name)
        out[name + ".weight"] = canonical.cnn_weight_from_nhwc(name, kernel.numpy(), _chw(m),
                                                               m.layout)
        out[name + ".bias"] = bias.numpy()
    return out


def import_params(state, params):
    m = state["model"]
    canonical.check_keys(params, list(export_params(state)))
    for name in _LAYERS:
        kernel, bias = getattr(m, name)
        kernel.assign(canonical.cnn_weight_to_nhwc(name, params[name + ".weight"], _chw(m),
                                                   m.layout))
        bias.assign(params[name + ".bias"])


def outputs(state, x):
    """The eval-mode logits (N, 10) as float32 numpy."""
    if "logits" not in state:
        state["logits"] = tf.function(lambda xb: state["model"](xb, training=False))
    return state["logits"](_tensor(x)).numpy()
