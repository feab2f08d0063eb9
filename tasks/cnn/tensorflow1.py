"""CNN (VGG-style, CIFAR-10) as a TensorFlow 1 program: placeholders, a Session, feed_dict.

The 2017 benchmark's Tensorflow_CNN notebook (ilkarman/DeepLearningFrameworks, TensorFlow 1.4)
built the network from tf.layers (conv2d, max_pooling2d, dropout, dense) on placeholders X, y
and a boolean `training` fed to the dropout layers, trained it with
tf.train.MomentumOptimizer(...).minimize(loss) in a tf.Session fed by feed_dict, and predicted
with tf.argmax of the logits. tf.layers is not reachable through tf.compat.v1 on TensorFlow
2.21 without Keras 2 (tf.compat.v1.layers is Keras 2's legacy layers), so the same layers are
written with what tf.layers built them from: tf.get_variable (no initializer given: Glorot-
uniform kernels, as tf.layers' defaults; zero biases) and tf.nn ops. Only the TensorFlow 1.4
API, reached as fw.tf (frameworks/tensorflow1.py). Channels-first (NCHW) on a GPU, as 2017's
tf.layers (data_format='channels_first'); NHWC on the CPU, where TensorFlow has no NCHW max-pool
gradient (as the tensorflow adapter). Sizes in common/params.py.
"""
import numpy as np

from common import canonical
from frameworks import tensorflow1 as fw

tf = fw.tf  # TensorFlow 1's API: tensorflow 1.x itself, or tensorflow.compat.v1 on 2.x

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "layout_gpu": "NCHW"}  # fw.DEVICE["layout"]: the one in effect


def _conv(x, name, cout, k, layout, relu=True):
    # tf.layers.conv2d(padding='same'): kernel (k, k, in, out) in both layouts, Glorot-uniform,
    # zero bias
    cin = int(x.shape[1 if layout == "NCHW" else -1])
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", [k, k, cin, cout],
                                 initializer=tf.glorot_uniform_initializer())
        bias = tf.get_variable("bias", [cout], initializer=tf.zeros_initializer())
    x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME", data_format=layout), bias,
                       data_format=layout)
    return tf.nn.relu(x) if relu else x


def _dense(x, name, cout):
    # tf.layers.dense: kernel (in, out), Glorot-uniform, zero bias
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", [int(x.shape[-1]), cout],
                                 initializer=tf.glorot_uniform_initializer())
        bias = tf.get_variable("bias", [cout], initializer=tf.zeros_initializer())
    return tf.matmul(x, kernel) + bias


def _pool(x, k, layout):
    window = [1, 1, k, k] if layout == "NCHW" else [1, k, k, 1]
    return tf.nn.max_pool(x, window, window, "VALID", data_format=layout)


def _dropout(x, rate, training):
    # tf.layers.dropout(rate, training=placeholder): dropout only when `training` is fed True
    return tf.cond(training, lambda: tf.nn.dropout(x, 1.0 - rate), lambda: x)


def build_model(p):
    c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
    layout = fw.DEVICE["layout"]
    image = ([p["channels"], p["height"], p["width"]] if layout == "NCHW"
             else [p["height"], p["width"], p["channels"]])
    with tf.device(fw.device()):
        x = tf.placeholder(tf.float32, [None] + image, name="X")
        y = tf.placeholder(tf.int32, [None], name="y")
        training = tf.placeholder_with_default(False, [], name="training")  # dropout switch
        with tf.variable_scope("cnn"):
            h = _conv(x, "conv1", c1, k, layout)
            h = tf.nn.relu(_pool(_conv(h, "conv2", c1, k, layout, relu=False), p["pool"], layout))
            h = _dropout(h, p["dropout_conv"], training)
            h = _conv(h, "conv3", c2, k, layout)
            h = tf.nn.relu(_pool(_conv(h, "conv4", c2, k, layout, relu=False), p["pool"], layout))
            h = _dropout(h, p["dropout_conv"], training)
            flat = c2 * (p["height"] // 4) * (p["width"] // 4)
            h = tf.reshape(h, [-1, flat])  # flattened in the layout's order
            h = _dropout(tf.nn.relu(_dense(h, "fc1", p["dense_units"])), p["dropout_dense"],
                         training)
            logits = _dense(h, "output", p["n_classes"])  # softmax lives in the loss
    return {"x": x, "y": y, "training": training, "logits": logits, "layout": layout,
            "weights": tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, "cnn")}


def count_parameters(model):
    return sum(int(np.prod(w.get_shape().as_list())) for w in model["weights"])


def build_trainer(model, p):
    with tf.device(fw.device()):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=model["y"], logits=model["logits"]))
        # SGD with momentum as 2017: accum = momentum * accum + grad; w -= lr * accum
        step = tf.train.MomentumOptimizer(p["lr"], p["momentum"]).minimize(loss)
        classes = tf.argmax(model["logits"], 1)
    sess = fw.session()
    sess.run(tf.global_variables_initializer())
    return {"model": model, "session": sess, "loss": loss, "step": step, "classes": classes}


def train_step(state, x, y):
    m = state["model"]
    # one sess.run: the update, and the loss fetched with it (a numpy scalar)
    _, loss = state["session"].run([state["step"], state["loss"]],
                                   feed_dict={m["x"]: x, m["y"]: y, m["training"]: True})
    return loss


def to_float(loss):
    return float(loss)


def predict(state, x):
    # `training` left at its default, False: dropout off
    return state["session"].run(state["classes"], feed_dict={state["model"]["x"]: x})


def sync(state):
    pass  # sess.run returns when the step's work is done, on the GPU too


# model equivalence (`dlbench check-models`, common/canonical.py): kernels HWIO and dense
# (in, out) here, OIHW and (out, in) there; on NHWC fc1 reads the NHWC-flattened map, so its
# inputs are permuted from the canonical NCHW order; tf.layers' "output" layer is fc2

_LAYERS = (("conv1", "conv1"), ("conv2", "conv2"), ("conv3", "conv3"), ("conv4", "conv4"),
           ("fc1", "fc1"), ("fc2", "output"))


def _by_name(state):
    return dict((w.op.name, w) for w in state["model"]["weights"])


def _chw(found):
    return canonical.cnn_flat_shape(int(found["cnn/fc1/kernel"].get_shape()[0]),
                                    int(found["cnn/conv4/bias"].get_shape()[0]))


def export_params(state):
    found, sess, out = _by_name(state), state["session"], {}
    for name, scope in _LAYERS:
        out[name + ".weight"] = canonical.cnn_weight_from_nhwc(
            name, sess.run(found["cnn/%s/kernel" % scope]), _chw(found),
            state["model"]["layout"])
        out[name + ".bias"] = sess.run(found["cnn/%s/bias" % scope])
    return out


def import_params(state, params):
    found, sess = _by_name(state), state["session"]
    canonical.check_keys(params, ["%s.%s" % (n, k) for n, _ in _LAYERS for k in ("weight", "bias")])
    for name, scope in _LAYERS:
        found["cnn/%s/kernel" % scope].load(
            canonical.cnn_weight_to_nhwc(name, params[name + ".weight"], _chw(found),
                                         state["model"]["layout"]), sess)
        found["cnn/%s/bias" % scope].load(params[name + ".bias"], sess)


def outputs(state, x):
    """The eval-mode logits (N, 10) as float32 numpy (`training` at its default: False)."""
    return state["session"].run(state["model"]["logits"], feed_dict={state["model"]["x"]: x})
