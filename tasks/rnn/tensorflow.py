"""RNN (GRU sentiment classifier, IMDB) in TensorFlow 2, built as the 2017 notebook built it.

Plain TensorFlow: variables in a tf.Module, tf.nn ops, and the training step compiled to a graph
by tf.function (TensorFlow's own fast path); no Keras, which has its own column (keras3).

The 2017 benchmark's Tensorflow_RNN notebook (ilkarman/DeepLearningFrameworks, TensorFlow 1.4,
notebooks/Tensorflow_RNN.ipynb, create_symbol) used cuDNN's GRU (cudnn_rnn_ops.CudnnGRU, one
layer, linear input, time-major: the embedded words unstacked along time); its weights were one
buffer drawn uniform(-0.1, 0.1), biases included, and its initial state `input_h` a trainable
variable of zeros, shape (1, batch, hidden): 6,400 weights more than a zero state. The embedding
came from tf.contrib.layers.embed_sequence and the output layer from tf.layers.dense, both with
no initializer given, so TensorFlow 1's get_variable default: Glorot-uniform (biases zero).
Parameters: embedding 3,750,000 + GRU 68,100 + initial state 6,400 + dense 202 = PARAMETERS.

The GRU has cuDNN's form: gates in the order (reset, update, new), two bias vectors, and the
reset gate applied after the recurrent matmul,
    r = sigmoid(W_r x + b_Wr + R_r h + b_Rr)      z = sigmoid(W_z x + b_Wz + R_z h + b_Rz)
    n = tanh(W_n x + b_Wn + r * (R_n h + b_Rn))   h' = (1 - z) * n + z * h
On a GPU it runs cuDNN's kernel, as in 2017; on the CPU (which has no cuDNN) the same equations
as a loop inside the graph. Sizes in common/params.py.
"""
import numpy as np
import tensorflow as tf

from common import canonical
from frameworks import tensorflow as fw

# The 2017 notebook's trainable variables, counted: embedding 30000 x 125 = 3,750,000, GRU
# 3 x (125 x 100 + 100 x 100 + 2 x 100) = 68,100, initial state 64 x 100 = 6,400, dense
# 100 x 2 + 2 = 202 (count_parameters() must give it; tests/tasks/test_tensorflow_rnn.py checks)
PARAMETERS = 3824702

# "gru" is filled in by build_model once the device is known: which GRU kernel ran. The runner
# records a shallow copy of SETTINGS before build_model, so the inner dict is shared with it.
EQUIVALENCE = {"family": "gru-reset-after-h0"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC (batch major)",
            "gru": {"kernel": None, "form": "cuDNN (reset gate after the recurrent matmul, "
                                            "two bias vectors)",
                    "initial_state": "trainable (2017's input_h)",
                    "init": "GRU uniform(-0.1, 0.1); embedding and dense Glorot-uniform"}}
CUDNN_KERNEL = "cuDNN: tf.raw_ops.CudnnRNNV3, time-major"
CPU_KERNEL = "graph loop: tf.foldl over the time steps inside tf.function, time-major"


def _uniform(shape, limit):
    return tf.Variable(tf.random.uniform(shape, -limit, limit, dtype=tf.float32))


def _glorot(shape):
    # Glorot-uniform: TensorFlow 1's default initializer for get_variable (2017's embedding
    # and dense kernel were created with no initializer given)
    return _uniform(shape, np.sqrt(6.0 / (shape[0] + shape[1])))


class GRUClassifier(tf.Module):
    def __init__(self, p, cudnn):
        super(GRUClassifier, self).__init__()
        e, h = p["embedding"], p["hidden"]
        self.embedding = _glorot([p["max_features"], e])
        # cuDNN's GRU weights, gate blocks (reset, update, new) side by side, drawn like
        # 2017's CudnnGRU buffer: every weight and bias uniform(-0.1, 0.1)
        self.gru_kernel = _uniform([e, 3 * h], 0.1)          # input x -> W_r | W_z | W_n
        self.gru_recurrent = _uniform([h, 3 * h], 0.1)       # hidden h -> R_r | R_z | R_n
        self.gru_bias_input = _uniform([3 * h], 0.1)         # b_Wr | b_Wz | b_Wn
        self.gru_bias_recurrent = _uniform([3 * h], 0.1)     # b_Rr | b_Rz | b_Rn
        # 2017's input_h: a trainable initial state, zeros, one row per example of a batch
        self.initial_state = tf.Variable(tf.zeros([p["batch_size"], h]))
        self.fc = (_glorot([h, p["n_classes"]]), tf.Variable(tf.zeros([p["n_classes"]])))
        self.hidden = h
        self.cudnn = cudnn

    def __call__(self, x, training=False):
        if x.shape[0] != self.initial_state.shape[0]:
            raise ValueError("the trainable initial state has %d rows (2017's input_h): batches "
                             "of %d only, not %d" % (self.initial_state.shape[0],
                                                     self.initial_state.shape[0], x.shape[0]))
        x = tf.nn.embedding_lookup(self.embedding, x)                   # (N, T, E)
        x = tf.transpose(x, [1, 0, 2])                                  # (T, N, E), as 2017
        gru = self._gru_cudnn if self.cudnn else self._gru_loop
        h = gru(x, training)                                            # last output (N, H)
        return tf.matmul(h, self.fc[0]) + self.fc[1]                    # logits

    def _gru_loop(self, x, training):
        """The GRU's equations as graph ops (CPU): the input side of every step in one matmul,
        then the recurrence as tf.foldl over time (a while loop in the graph). Returns the last
        output. Measured on a 2-core AMD EPYC, TensorFlow 2.21, batch 64 x 150 steps: 0.09 s a
        training step and 0.9 s to compile, against 0.21-0.29 s and 7 s for the same equations
        unrolled by a Python loop, and 0.33 s for tf.while_loop indexing the steps."""
        gates_x = tf.einsum("tne,eg->tng", x, self.gru_kernel) + self.gru_bias_input
        recurrent, bias = self.gru_recurrent, self.gru_bias_recurrent

        def step(h, gx):
            xr, xz, xn = tf.split(gx, 3, axis=1)
            hr, hz, hn = tf.split(tf.matmul(h, recurrent) + bias, 3, axis=1)
            r = tf.sigmoid(xr + hr)
            z = tf.sigmoid(xz + hz)
            n = tf.tanh(xn + r * hn)
            return (1.0 - z) * n + z * h

        return tf.foldl(step, gates_x, initializer=tf.convert_to_tensor(self.initial_state))

    def _gru_cudnn(self, x, training):
        """cuDNN's GRU kernel (GPU). tf.raw_ops.CudnnRNNV3 rather than keras.layers.GRU: the same
        kernel Keras's cuDNN path calls, reached without Keras, with our own variables and the
        trainable initial state; V3 because it is the variant Keras exercises. Returns the last
        output."""
        steps, batch = x.shape[0], x.shape[1]
        outputs, _, _, _, _ = tf.raw_ops.CudnnRNNV3(
            input=x, input_h=tf.expand_dims(self.initial_state, 0), input_c=0.0,
            params=self.cudnn_params(), sequence_lengths=tf.fill([batch], steps),
            rnn_mode="gru", input_mode="linear_input", direction="unidirectional",
            is_training=training, time_major=True)
        return outputs[-1]

    def cudnn_params(self):
        """The weights as the one flat buffer cuDNN reads: the six weight matrices (W_r, W_z,
        W_n, R_r, R_z, R_n), each stored (out, in) row by row, then the six bias vectors
        (b_Wr, b_Wz, b_Wn, b_Rr, b_Rz, b_Rn): the layout Keras's cuDNN path packs its GRU
        weights into as well. Built from the variables inside the step, so gradients reach
        them."""
        mats = tf.split(self.gru_kernel, 3, axis=1) + tf.split(self.gru_recurrent, 3, axis=1)
        return tf.concat([tf.reshape(tf.transpose(m), [-1]) for m in mats]
                         + [self.gru_bias_input, self.gru_bias_recurrent], axis=0)


def build_model(p):
    gpu = fw.DEVICE["gpu"]
    SETTINGS["gru"]["kernel"] = CUDNN_KERNEL if gpu else CPU_KERNEL
    with tf.device("/GPU:0" if gpu else "/CPU:0"):
        return GRUClassifier(p, cudnn=gpu)


def count_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_variables)


def build_trainer(model, p):
    weights = model.trainable_variables
    moments = [(tf.Variable(tf.zeros_like(w), trainable=False),
                tf.Variable(tf.zeros_like(w), trainable=False)) for w in weights]
    t = tf.Variable(0.0, trainable=False)
    lr, b1, b2, eps = [tf.constant(p[k], tf.float32) for k in ("lr", "beta1", "beta2", "eps")]

    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=logits))
        grads = tape.gradient(loss, weights)
        t.assign_add(1.0)
        for w, (m, v), g in zip(weights, moments, grads):
            # Adam, the fused kernel TensorFlow's optimisers use (epsilon outside the
            # bias-corrected square root, as in 2017's tf.train.AdamOptimizer); dense update of
            # the embedding as well
            tf.raw_ops.ResourceApplyAdam(var=w.handle, m=m.handle, v=v.handle,
                                         beta1_power=tf.pow(b1, t), beta2_power=tf.pow(b2, t),
                                         lr=lr, beta1=b1, beta2=b2, epsilon=eps,
                                         grad=tf.convert_to_tensor(g))
        return loss

    def classes(x):
        return tf.argmax(model(x), axis=1, output_type=tf.int32)

    # tf.function traces each step once into a graph (compiled during the runner's warm-up)
    return {"model": model, "moments": moments, "t": t,
            "step": tf.function(step), "classes": tf.function(classes)}


def _tensor(array):
    return tf.convert_to_tensor(np.ascontiguousarray(array))  # copied to the GPU by the step


def train_step(state, x, y):
    return state["step"](_tensor(x.astype(np.int32)), _tensor(y.astype(np.int32)))


def to_float(loss):
    return float(loss.numpy())


def predict(state, x):
    return state["classes"](_tensor(x.astype(np.int32))).numpy()


def sync(state):
    if fw.DEVICE["gpu"]:
        tf.test.experimental.sync_devices()


# model equivalence (`dlbench check-models`, common/canonical.py): gate blocks (r, z, n) as the
# canonical order; kernels (in, 3H) here, (3H, in) there; the trainable initial state is gru.h0

def _variables(model):
    """canonical name -> (variable, transposed)."""
    return {"embedding.weight": (model.embedding, False),
            "gru.weight_ih": (model.gru_kernel, True),
            "gru.weight_hh": (model.gru_recurrent, True),
            "gru.bias_ih": (model.gru_bias_input, False),
            "gru.bias_hh": (model.gru_bias_recurrent, False),
            "gru.h0": (model.initial_state, False),
            "fc.weight": (model.fc[0], True), "fc.bias": (model.fc[1], False)}


def export_params(state):
    return dict((k, np.ascontiguousarray(v.numpy().T if t else v.numpy()))
                for k, (v, t) in _variables(state["model"]).items())


def import_params(state, params):
    found = _variables(state["model"])
    canonical.check_keys(params, list(found))
    for k, (v, t) in found.items():
        v.assign(np.ascontiguousarray(params[k].T if t else params[k]))


def outputs(state, x):
    """The eval-mode final logits (N, 2) as float32 numpy (N: the initial state's rows)."""
    if "logits" not in state:
        state["logits"] = tf.function(lambda xb: state["model"](xb))
    return state["logits"](_tensor(x.astype(np.int32))).numpy()
