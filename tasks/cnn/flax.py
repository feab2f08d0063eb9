"""CNN (VGG-style, CIFAR-10) in JAX + Flax + optax.

Functional jit: the model is written as a Flax NNX module, then split into a static graph and a
pytree of parameters; one pure training step (forward, gradient, optax update) is compiled by
jax.jit and maps (params, optimiser state, batch) to new ones. Flax convolutions are NHWC. Model
as in the 2017 benchmark's CNN notebooks; sizes in common/params.py.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from common import canonical
from frameworks import flax as fw

EQUIVALENCE = {"family": "cnn-vgg"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC"}  # Flax convolutions are channels-last


class VGGStyleCNN(nnx.Module):
    def __init__(self, p, rngs):
        c1, c2, k = p["conv1_filters"], p["conv2_filters"], p["kernel"]
        # Glorot-uniform weights, zero biases: Flax had no 2017 notebook, so it follows the
        # TensorFlow/Keras notebooks' rule
        glorot = nnx.initializers.glorot_uniform()

        def conv(cin, cout):
            return nnx.Conv(cin, cout, (k, k), padding="SAME", kernel_init=glorot, rngs=rngs)
        self.conv1 = conv(p["channels"], c1)
        self.conv2 = conv(c1, c1)
        self.conv3 = conv(c1, c2)
        self.conv4 = conv(c2, c2)
        flat = c2 * (p["height"] // 4) * (p["width"] // 4)
        self.fc1 = nnx.Linear(flat, p["dense_units"], kernel_init=glorot, rngs=rngs)
        self.fc2 = nnx.Linear(p["dense_units"], p["n_classes"], kernel_init=glorot, rngs=rngs)
        self.drop_conv = nnx.Dropout(p["dropout_conv"])
        self.drop_dense = nnx.Dropout(p["dropout_dense"])
        self.pool = (p["pool"], p["pool"])

    def __call__(self, x, key=None):
        # key: dropout on (training); None: dropout off (eval)
        keys = jax.random.split(key, 3) if key is not None else (None, None, None)
        off = key is None
        x = nnx.relu(self.conv1(x))
        x = nnx.relu(nnx.max_pool(self.conv2(x), self.pool, self.pool))
        x = self.drop_conv(x, deterministic=off, rngs=keys[0])
        x = nnx.relu(self.conv3(x))
        x = nnx.relu(nnx.max_pool(self.conv4(x), self.pool, self.pool))
        x = self.drop_conv(x, deterministic=off, rngs=keys[1])
        x = x.reshape((x.shape[0], -1))  # NHWC flatten order
        x = self.drop_dense(nnx.relu(self.fc1(x)), deterministic=off, rngs=keys[2])
        return self.fc2(x)  # logits: softmax lives in the loss


def build_model(p):
    return VGGStyleCNN(p, nnx.Rngs(fw.DEVICE["seed"]))


def count_parameters(model):
    return sum(w.size for w in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))


def build_trainer(model, p):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    # SGD with momentum: trace = momentum * trace + g; w -= lr * trace (PyTorch's form)
    tx = optax.sgd(p["lr"], momentum=p["momentum"])

    def loss_fn(params, x, y, key):
        logits = nnx.merge(graphdef, params, rest)(x, key)  # dropout on
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y, n):
        key = jax.random.fold_in(jax.random.PRNGKey(fw.DEVICE["seed"]), n)  # new dropout masks
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def classes(params, x):
        return jnp.argmax(nnx.merge(graphdef, params, rest)(x), axis=1)

    def logits(params, x):  # outputs(): the model-equivalence check's, never timed
        return nnx.merge(graphdef, params, rest)(x)

    # jax.jit compiles each pure function once (during the runner's warm-up step)
    # no buffer donation, as in the plain loop (CPU, CNN vs plain: 0.89 with it, 0.98 without)
    return {"params": params, "opt_state": tx.init(params), "n": 0,
            "step": jax.jit(step), "classes": jax.jit(classes), "logits": jax.jit(logits)}


def _tensor(array):
    return jax.device_put(np.ascontiguousarray(array))  # host-to-device copy


def train_step(state, x, y):
    state["params"], state["opt_state"], loss = state["step"](
        state["params"], state["opt_state"], _tensor(x), _tensor(y.astype(np.int32)),
        state["n"])
    state["n"] += 1
    return loss  # a jax array: the step may still be running


def to_float(loss):
    return float(loss)


def predict(state, x):
    return np.asarray(state["classes"](state["params"], _tensor(x)))


def sync(state):
    jax.block_until_ready(state["params"])


# model equivalence (`dlbench check-models`, common/canonical.py): kernels HWIO and dense
# (in, out) here, OIHW and (out, in) there; fc1 reads the NHWC-flattened map, so its inputs are
# permuted from the canonical NCHW order

def _chw(named):
    return canonical.cnn_flat_shape(named["fc1.kernel"].shape[0], named["conv4.bias"].shape[0])


def export_params(state):
    named, out = fw.named_arrays(state["params"]), {}
    for name in ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2"):
        out[name + ".weight"] = canonical.cnn_weight_from_nhwc(name, named[name + ".kernel"],
                                                               _chw(named))
        out[name + ".bias"] = named[name + ".bias"]
    return out


def import_params(state, params):
    canonical.check_keys(params, list(export_params(state)))
    named, arrays = fw.named_arrays(state["params"]), {}
    for name in ("conv1", "conv2", "conv3", "conv4", "fc1", "fc2"):
        arrays[name + ".kernel"] = canonical.cnn_weight_to_nhwc(name, params[name + ".weight"],
                                                                _chw(named))
        arrays[name + ".bias"] = params[name + ".bias"]
    state["params"] = fw.with_arrays(state["params"], arrays)


def outputs(state, x):
    """The eval-mode logits (N, 10) as float32 numpy (no key: dropout off)."""
    return np.asarray(state["logits"](state["params"], _tensor(x)))
