"""RNN (GRU sentiment classifier, IMDB) as a TensorFlow 1 program: placeholders, a Session,
feed_dict.

The 2017 benchmark's Tensorflow_RNN notebook (ilkarman/DeepLearningFrameworks, TensorFlow 1.4,
create_symbol and init_model) fed placeholders X (int32, (batch, 150)) and y, embedded the words
with tf.contrib.layers.embed_sequence, ran cuDNN's GRU (cudnn_rnn_ops.CudnnGRU: one layer,
linear input, time-major) whose weights were ONE buffer `params` of params_size() values drawn
uniform(-0.1, 0.1), from a trainable initial state `input_h` of zeros, shape (1, batch, hidden),
put tf.layers.dense on the last output and trained with tf.train.AdamOptimizer(...).minimize
in a tf.Session. The embedding and dense layer had no initializer given: TensorFlow 1's
get_variable default, Glorot-uniform (biases zero). tf.contrib is not in TensorFlow 2, so the
embedding is tf.get_variable + tf.nn.embedding_lookup (what embed_sequence made) and the dense
layer tf.get_variable + tf.matmul. Only the TensorFlow 1.4 API, reached as fw.tf.

The GRU: on a GPU, cuDNN's kernel on one uniform(-0.1, 0.1) buffer, as 2017 ran it: TensorFlow
1.x through 2017's contrib CudnnGRU, TensorFlow 2.x through the CudnnRNN op that CudnnGRU ran
(tf.raw_ops.CudnnRNN). On the CPU (no cuDNN) the same equations, cuDNN's form, as a tf.foldl
loop in the graph, the weights as four uniform(-0.1, 0.1) variables of the same 68,100 values:
    r = sigmoid(W_r x + b_Wr + R_r h + b_Rr)      z = sigmoid(W_z x + b_Wz + R_z h + b_Rz)
    n = tanh(W_n x + b_Wn + r * (R_n h + b_Rn))   h' = (1 - z) * n + z * h
The math, initialisation and parameter count are tasks/rnn/tensorflow.py's. Sizes in
common/params.py.
"""
import numpy as np

from common import canonical
from frameworks import tensorflow1 as fw

tf = fw.tf  # TensorFlow 1's API: tensorflow 1.x itself, or tensorflow.compat.v1 on 2.x

# The 2017 notebook's trainable variables, counted: embedding 30000 x 125 = 3,750,000, GRU
# 3 x (125 x 100 + 100 x 100 + 2 x 100) = 68,100, initial state 64 x 100 = 6,400, dense
# 100 x 2 + 2 = 202 (tasks/rnn/tensorflow.py's count; run.py asserts it)
PARAMETERS = 3824702

# "gru" is filled in by build_model once the device is known: which GRU kernel ran. The runner
# records a shallow copy of SETTINGS before build_model, so the inner dict is shared with it.
EQUIVALENCE = {"family": "gru-reset-after-h0"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC (batch major)",
            "gru": {"kernel": None, "form": "cuDNN (reset gate after the recurrent matmul, "
                                            "two bias vectors)",
                    "initial_state": "trainable (2017's input_h)",
                    "init": "GRU uniform(-0.1, 0.1); embedding and dense Glorot-uniform"}}
CUDNN_KERNELS = {1: "cuDNN: tf.contrib.cudnn_rnn CudnnGRU (2017's), one buffer, time-major",
                 2: "cuDNN: the CudnnRNN op (tf.raw_ops.CudnnRNN), one buffer, time-major"}
CPU_KERNEL = "graph loop: tf.foldl over the time steps, time-major"


def _uniform(name, shape):
    # 2017's GRU weights: uniform(-0.1, 0.1), biases included
    return tf.get_variable(name, shape, initializer=tf.random_uniform_initializer(-0.1, 0.1))


def _glorot(name, shape):
    return tf.get_variable(name, shape, initializer=tf.glorot_uniform_initializer())


def _gru_loop(x, input_h, e, h):
    """The GRU's equations as graph ops (CPU): the input side of every step in one matmul,
    then the recurrence as tf.foldl over time (a while loop in the graph). Returns the last
    output."""
    kernel = _uniform("kernel", [e, 3 * h])                # input x -> W_r | W_z | W_n
    recurrent = _uniform("recurrent_kernel", [h, 3 * h])   # hidden h -> R_r | R_z | R_n
    bias_input = _uniform("bias_input", [3 * h])           # b_Wr | b_Wz | b_Wn
    bias_recurrent = _uniform("bias_recurrent", [3 * h])   # b_Rr | b_Rz | b_Rn
    steps, batch = int(x.shape[0]), int(x.shape[1])
    gates_x = tf.reshape(tf.matmul(tf.reshape(x, [-1, e]), kernel) + bias_input,
                         [steps, batch, 3 * h])

    def step(state, gx):
        xr, xz, xn = tf.split(gx, 3, axis=1)
        hr, hz, hn = tf.split(tf.matmul(state, recurrent) + bias_recurrent, 3, axis=1)
        r = tf.sigmoid(xr + hr)
        z = tf.sigmoid(xz + hz)
        n = tf.tanh(xn + r * hn)
        return (1.0 - z) * n + z * state

    return tf.foldl(step, gates_x, initializer=input_h[0])


def _gru_cudnn(x, input_h, e, h):
    """cuDNN's GRU (GPU) on one buffer of every weight and bias, as 2017's params. For one layer
    with linear input cuDNN's buffer holds exactly the canonical weights and biases. Run with
    is_training=True for prediction too, as 2017's one graph did. Returns the last output."""
    params = _uniform("params", [3 * (e * h + h * h) + 6 * h])
    if fw.major() < 2:
        from tensorflow.contrib.cudnn_rnn.python.ops import cudnn_rnn_ops
        gru = cudnn_rnn_ops.CudnnGRU(num_layers=1, num_units=h, input_size=e,
                                     input_mode="linear_input")
        outputs, _ = gru(input_data=x, input_h=input_h, params=params)
    else:
        outputs = fw.tensorflow.raw_ops.CudnnRNN(
            input=x, input_h=input_h, input_c=tf.zeros([0]), params=params, rnn_mode="gru",
            input_mode="linear_input", direction="unidirectional", is_training=True)[0]
    return outputs[-1]


def build_model(p):
    gpu = fw.DEVICE["gpu"]
    SETTINGS["gru"]["kernel"] = CUDNN_KERNELS[min(fw.major(), 2)] if gpu else CPU_KERNEL
    e, h, batch = p["embedding"], p["hidden"], p["batch_size"]
    with tf.device(fw.device()):
        # the trainable initial state fixes the batch: full batches only (the runner's)
        x = tf.placeholder(tf.int32, [batch, p["maxlen"]], name="X")
        y = tf.placeholder(tf.int32, [batch], name="y")
        with tf.variable_scope("rnn"):
            words = tf.nn.embedding_lookup(_glorot("embedding", [p["max_features"], e]), x)
            words = tf.transpose(words, [1, 0, 2])                    # (T, N, E), as 2017
            input_h = tf.get_variable("input_h", [1, batch, h],      # 2017's input_h
                                      initializer=tf.zeros_initializer())
            with tf.variable_scope("gru"):
                last = (_gru_cudnn if gpu else _gru_loop)(words, input_h, e, h)
            with tf.variable_scope("output"):
                logits = tf.matmul(last, _glorot("kernel", [h, p["n_classes"]])) + \
                    tf.get_variable("bias", [p["n_classes"]], initializer=tf.zeros_initializer())
    return {"x": x, "y": y, "logits": logits,
            "weights": tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, "rnn")}


def count_parameters(model):
    return sum(int(np.prod(w.get_shape().as_list())) for w in model["weights"])


def build_trainer(model, p):
    with tf.device(fw.device()):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=model["y"], logits=model["logits"]))
        # Adam as 2017's tf.train.AdamOptimizer (epsilon outside the bias-corrected square
        # root); the embedding's gradient is sparse, its moments decay densely
        step = tf.train.AdamOptimizer(p["lr"], p["beta1"], p["beta2"], p["eps"]).minimize(loss)
        classes = tf.argmax(model["logits"], 1)
    sess = fw.session()
    sess.run(tf.global_variables_initializer())
    return {"model": model, "session": sess, "loss": loss, "step": step, "classes": classes}


def train_step(state, x, y):
    m = state["model"]
    # one sess.run: the update, and the loss fetched with it (a numpy scalar)
    _, loss = state["session"].run([state["step"], state["loss"]],
                                   feed_dict={m["x"]: x, m["y"]: y})
    return loss


def to_float(loss):
    return float(loss)


def predict(state, x):
    return state["session"].run(state["classes"], feed_dict={state["model"]["x"]: x})


def sync(state):
    pass  # sess.run returns when the step's work is done, on the GPU too


# model equivalence (`dlbench check-models`, common/canonical.py): gate blocks (r, z, n) as the
# canonical order; kernels (in, 3H) here, (3H, in) there; input_h (1, N, H) is gru.h0 (N, H).
# On a GPU the GRU is one cuDNN buffer: W_r, W_z, W_n, R_r, R_z, R_n, each (out, in) row by
# row, then b_W and b_R, i.e. exactly the canonical weight_ih, weight_hh, bias_ih, bias_hh
# flattened in turn (GPU path unverified here: no GPU)

def _by_name(state):
    return dict((w.op.name, w) for w in state["model"]["weights"])


def _gru_shapes(found):
    e = int(found["rnn/embedding"].get_shape()[1])
    h = int(found["rnn/input_h"].get_shape()[2])
    return e, h


def export_params(state):
    found, sess = _by_name(state), state["session"]
    e, h = _gru_shapes(found)
    out = {"embedding.weight": sess.run(found["rnn/embedding"]),
           "gru.h0": sess.run(found["rnn/input_h"])[0],
           "fc.weight": np.ascontiguousarray(sess.run(found["rnn/output/kernel"]).T),
           "fc.bias": sess.run(found["rnn/output/bias"])}
    if "rnn/gru/params" in found:  # cuDNN's buffer
        buf = sess.run(found["rnn/gru/params"])
        sizes = [3 * h * e, 3 * h * h, 3 * h, 3 * h]
        parts = np.split(buf, np.cumsum(sizes)[:-1])
        out.update({"gru.weight_ih": parts[0].reshape(3 * h, e),
                    "gru.weight_hh": parts[1].reshape(3 * h, h),
                    "gru.bias_ih": parts[2], "gru.bias_hh": parts[3]})
    else:
        out.update({"gru.weight_ih": np.ascontiguousarray(sess.run(found["rnn/gru/kernel"]).T),
                    "gru.weight_hh": np.ascontiguousarray(
                        sess.run(found["rnn/gru/recurrent_kernel"]).T),
                    "gru.bias_ih": sess.run(found["rnn/gru/bias_input"]),
                    "gru.bias_hh": sess.run(found["rnn/gru/bias_recurrent"])})
    return out


def import_params(state, params):
    found, sess = _by_name(state), state["session"]
    canonical.check_keys(params, ["embedding.weight", "gru.h0", "fc.weight", "fc.bias",
                                  "gru.weight_ih", "gru.weight_hh", "gru.bias_ih",
                                  "gru.bias_hh"])
    found["rnn/embedding"].load(params["embedding.weight"], sess)
    found["rnn/input_h"].load(params["gru.h0"][None], sess)
    found["rnn/output/kernel"].load(canonical.dense_to_io(params["fc.weight"]), sess)
    found["rnn/output/bias"].load(params["fc.bias"], sess)
    if "rnn/gru/params" in found:
        found["rnn/gru/params"].load(np.concatenate(
            [params[k].ravel() for k in ("gru.weight_ih", "gru.weight_hh", "gru.bias_ih",
                                         "gru.bias_hh")]), sess)
    else:
        found["rnn/gru/kernel"].load(canonical.dense_to_io(params["gru.weight_ih"]), sess)
        found["rnn/gru/recurrent_kernel"].load(canonical.dense_to_io(params["gru.weight_hh"]),
                                               sess)
        found["rnn/gru/bias_input"].load(params["gru.bias_ih"], sess)
        found["rnn/gru/bias_recurrent"].load(params["gru.bias_hh"], sess)


def outputs(state, x):
    """The eval-mode final logits (N, 2) as float32 numpy (N: the placeholder's batch)."""
    return state["session"].run(state["model"]["logits"], feed_dict={state["model"]["x"]: x})
