"""RNN (GRU sentiment classifier, IMDB) in JAX + Flax + optax.

Functional jit: the model is written as a Flax NNX module, then split into a static graph and a
pytree of parameters; one pure training step (forward, gradient, optax update) is compiled by
jax.jit. The GRU is Flax's GRUCell run by nnx.RNN (a lax.scan over the 150 steps): reset gate
after the recurrent matmul as cuDNN's, but biases on the input side only (flax 0.12's
nnx/nn/recurrent.py: dense_i with a bias, dense_h without; its docstring's b_hn is not in the
code), which gives 67,800 GRU weights. Model as in the 2017 benchmark's RNN notebooks; sizes in
common/params.py.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from common import canonical
from frameworks import flax as fw

EQUIVALENCE = {"family": "gru-reset-after-input-bias"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NTC (batch major)", "gru": "nnx.GRUCell in nnx.RNN"}


class GRUClassifier(nnx.Module):
    def __init__(self, p, rngs):
        self.embedding = nnx.Embed(p["max_features"], p["embedding"], rngs=rngs)
        self.gru = nnx.RNN(nnx.GRUCell(p["embedding"], p["hidden"], rngs=rngs), rngs=False)
        self.fc = nnx.Linear(p["hidden"], p["n_classes"], rngs=rngs)
        self.hidden = p["hidden"]

    def __call__(self, x):
        x = self.embedding(x)
        out = self.gru(x, initial_carry=jnp.zeros((x.shape[0], self.hidden)))  # zeros
        return self.fc(out[:, -1, :])  # last output -> logits; softmax lives in the loss


def build_model(p):
    return GRUClassifier(p, nnx.Rngs(fw.DEVICE["seed"]))


def count_parameters(model):
    return sum(w.size for w in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param)))


def build_trainer(model, p):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(p["lr"], b1=p["beta1"], b2=p["beta2"], eps=p["eps"])

    def loss_fn(params, x, y):
        logits = nnx.merge(graphdef, params, rest)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def classes(params, x):
        return jnp.argmax(nnx.merge(graphdef, params, rest)(x), axis=1)

    def logits(params, x):  # outputs(): the model-equivalence check's, never timed
        return nnx.merge(graphdef, params, rest)(x)

    # jax.jit compiles each pure function once (during the runner's warm-up step)
    # no buffer donation, as in the plain loop (CPU, CNN vs plain: 0.89 with it, 0.98 without)
    return {"params": params, "opt_state": tx.init(params),
            "step": jax.jit(step), "classes": jax.jit(classes), "logits": jax.jit(logits)}


def _tensor(array):
    return jax.device_put(np.ascontiguousarray(array))  # host-to-device copy


def train_step(state, x, y):
    state["params"], state["opt_state"], loss = state["step"](
        state["params"], state["opt_state"], _tensor(x.astype(np.int32)),
        _tensor(y.astype(np.int32)))
    return loss  # a jax array: the step may still be running


def to_float(loss):
    return float(loss)


def predict(state, x):
    return np.asarray(state["classes"](state["params"], _tensor(x.astype(np.int32))))


def sync(state):
    jax.block_until_ready(state["params"])


# model equivalence (`dlbench check-models`, common/canonical.py): nnx.GRUCell holds dense_i
# (kernel (E, 3H), bias) on the input and dense_h (kernel (H, 3H), no bias) on the state, gate
# blocks in the order (r, z, n) and the reset gate applied after the recurrent matmul: the
# cuDNN form without a recurrent bias (gru.bias_hh absent, i.e. zero)

_NAMES = (("embedding.weight", "embedding.embedding", False),
          ("gru.weight_ih", "gru.cell.dense_i.kernel", True),
          ("gru.bias_ih", "gru.cell.dense_i.bias", False),
          ("gru.weight_hh", "gru.cell.dense_h.kernel", True),
          ("fc.weight", "fc.kernel", True), ("fc.bias", "fc.bias", False))


def export_params(state):
    named = fw.named_arrays(state["params"])
    return dict((ours, np.ascontiguousarray(named[theirs].T if t else named[theirs]))
                for ours, theirs, t in _NAMES)


def import_params(state, params):
    canonical.check_keys(params, [ours for ours, _, _ in _NAMES])
    state["params"] = fw.with_arrays(state["params"], dict(
        (theirs, np.ascontiguousarray(params[ours].T if t else params[ours]))
        for ours, theirs, t in _NAMES))


def outputs(state, x):
    """The eval-mode final logits (N, 2) as float32 numpy."""
    return np.asarray(state["logits"](state["params"], _tensor(x.astype(np.int32))))
