"""RNN (GRU sentiment classifier, IMDB) in TensorFlow 2.

Plain TensorFlow: variables in a tf.Module, tf.nn ops, and the training step compiled to a graph
by tf.function (TensorFlow's own fast path); no Keras, which has its own column (keras3). The GRU
is written out in the cuDNN/PyTorch form (two bias vectors, reset gate applied after the
recurrent matmul: 68,100 weights) and unrolled over the 150 steps inside the graph. Model as in
the 2017 benchmark's RNN notebooks; sizes in common/params.py.
"""
import numpy as np
import tensorflow as tf

from frameworks import tensorflow as fw

SETTINGS = {"layout": "NTC (batch major)", "gru": "unrolled, reset_after"}


def _glorot(shape, fan_in, fan_out):
    # Glorot-uniform weights (the Keras default the 2017 notebooks used).
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.Variable(tf.random.uniform(shape, -limit, limit, dtype=tf.float32))


def _orthogonal(rows, cols):
    # Orthogonal recurrent kernel (Keras default): orthonormal rows.
    q, r = tf.linalg.qr(tf.random.normal([cols, rows]))
    q = q * tf.sign(tf.linalg.diag_part(r))
    return tf.Variable(tf.transpose(q))


class GRUClassifier(tf.Module):
    def __init__(self, p):
        super(GRUClassifier, self).__init__()
        e, h = p["embedding"], p["hidden"]
        self.embedding = tf.Variable(tf.random.uniform([p["max_features"], e], -0.05, 0.05))
        self.gru_kernel = _glorot([e, 3 * h], e, 3 * h)      # input -> (reset, update, new)
        self.gru_recurrent = _orthogonal(h, 3 * h)           # hidden -> (reset, update, new)
        self.gru_bias_input = tf.Variable(tf.zeros([3 * h]))
        self.gru_bias_recurrent = tf.Variable(tf.zeros([3 * h]))
        self.fc = (_glorot([h, p["n_classes"]], h, p["n_classes"]),
                   tf.Variable(tf.zeros([p["n_classes"]])))
        self.hidden = h

    def __call__(self, x):
        x = tf.nn.embedding_lookup(self.embedding, x)                   # (N, T, E)
        gates_x = tf.einsum("nte,eg->ntg", x, self.gru_kernel) + self.gru_bias_input
        h = tf.zeros([tf.shape(x)[0], self.hidden])                    # initial state: zeros
        for t in range(x.shape[1]):  # a Python loop: unrolled into the graph
            xr, xz, xn = tf.split(gates_x[:, t], 3, axis=1)
            hr, hz, hn = tf.split(tf.matmul(h, self.gru_recurrent) + self.gru_bias_recurrent,
                                  3, axis=1)
            r = tf.sigmoid(xr + hr)
            z = tf.sigmoid(xz + hz)
            n = tf.tanh(xn + r * hn)
            h = (1.0 - z) * n + z * h
        return tf.matmul(h, self.fc[0]) + self.fc[1]  # last output -> logits


def build_model(p):
    with tf.device("/GPU:0" if fw.DEVICE["gpu"] else "/CPU:0"):
        return GRUClassifier(p)


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
            logits = model(x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=logits))
        grads = tape.gradient(loss, weights)
        t.assign_add(1.0)
        for w, (m, v), g in zip(weights, moments, grads):
            # Adam, the fused kernel TensorFlow's optimisers use (epsilon outside the
            # bias-corrected square root, as in Keras); dense update of the embedding as well
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
