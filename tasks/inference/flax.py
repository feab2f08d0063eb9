"""Inference (ResNet-50 feature extraction) in JAX + Flax.

Functional jit: the network is a Flax NNX module, split into a static graph and a pytree of
weights; the forward pass is one pure function compiled by jax.jit. Flax had no 2017 notebook
and has no model zoo, so ResNet-50 is written out with the PyTorch adapter's structure and
padding (torchvision's resnet50, as 2017's PyTorch notebook used it): batch-norm in inference
mode on its running statistics (a separate collection), cut after global average pooling: 2048
features. ResNet-50 layout: He et al. 2015, table 1. NHWC.
"""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from common import canonical
from frameworks import flax as fw

EQUIVALENCE = {"family": "resnet50-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC", "network": "torchvision resnet50 structure, fc removed"}

# Every weight the network holds, batch-norm running statistics included (the keras3 adapter's
# count): the PyTorch adapter's 23,508,032 parameters and 53,120 running statistics.
PARAMETERS = 23561152


def _conv(cin, cout, k, rngs, stride=1, padding=0):
    # bias-free, PyTorch's explicit padding; He-normal (fan-out) as torchvision initialises
    return nnx.Conv(cin, cout, (k, k), strides=stride, padding=[(padding, padding)] * 2,
                    use_bias=False, rngs=rngs,
                    kernel_init=nnx.initializers.variance_scaling(2.0, "fan_out", "normal"))


def _bn(features, rngs):
    return nnx.BatchNorm(features, use_running_average=True, epsilon=1e-5, rngs=rngs)


class Bottleneck(nnx.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, rngs):
        width = planes * self.expansion
        self.conv1 = _conv(inplanes, planes, 1, rngs)
        self.bn1 = _bn(planes, rngs)
        self.conv2 = _conv(planes, planes, 3, rngs, stride=stride, padding=1)
        self.bn2 = _bn(planes, rngs)
        self.conv3 = _conv(planes, width, 1, rngs)
        self.bn3 = _bn(width, rngs)
        self.downsample = None  # assigned once: NNX fixes an attribute's kind on assignment
        if stride != 1 or inplanes != width:
            del self.downsample
            self.downsample = nnx.Sequential(_conv(inplanes, width, 1, rngs, stride=stride),
                                             _bn(width, rngs))

    def __call__(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = nnx.relu(self.bn1(self.conv1(x)))
        out = nnx.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return nnx.relu(out + shortcut)


class ResNet50Features(nnx.Module):
    def __init__(self, p, rngs):
        self.conv1 = _conv(p["channels"], 64, 7, rngs, stride=2, padding=3)
        self.bn1 = _bn(64, rngs)
        inplanes, stages = 64, []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(inplanes, planes, stride if i == 0 else 1, rngs))
                inplanes = planes * Bottleneck.expansion
            stages.append(nnx.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def __call__(self, x):
        x = nnx.relu(self.bn1(self.conv1(x)))
        x = nnx.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return jnp.mean(x, axis=(1, 2))  # global average pooling: 2048 features


def build_model(p):
    net = ResNet50Features(p, nnx.Rngs(fw.DEVICE["seed"]))
    graphdef, weights = nnx.split(net)  # inference: batch-norm uses its running statistics

    def forward(weights, x):
        return nnx.merge(graphdef, weights)(x)
    # jax.jit compiles the forward pass once (during the runner's untimed cold batch)
    return {"weights": weights, "forward": jax.jit(forward)}


def count_parameters(model):
    # parameters and running statistics (nnx.BatchStat)
    return sum(w.size for w in jax.tree_util.tree_leaves(
        model["weights"].filter(nnx.Param, nnx.BatchStat)))


def load_weights(model, path):
    # np.savez(path, *jax.tree_util.tree_leaves(weights)): the weight pytree's fixed leaf order
    leaves, tree = jax.tree_util.tree_flatten(model["weights"])
    with np.load(path) as f:
        model["weights"] = jax.tree_util.tree_unflatten(
            tree, [jnp.asarray(f["arr_%d" % i]) for i in range(len(leaves))])


def _tensor(array):
    return jax.device_put(np.ascontiguousarray(array))  # host-to-device copy


def predict(model, x):
    return np.asarray(model["forward"](model["weights"], _tensor(x)))  # features to the host


def sync(model):
    jax.block_until_ready(model["weights"])


# model equivalence (`dlbench check-models`, common/canonical.py): the module names are
# torchvision's (fw.named_arrays drops nnx.Sequential's `layers`); kernels HWIO here, OIHW
# there; batch-norm scale, bias, mean, var -> weight, bias, running_mean, running_var

_BN = {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}


def _canonical(name):
    head, _, leaf = name.rpartition(".")
    return head + "." + ("weight" if leaf == "kernel" else _BN[leaf])


def export_params(model):
    out = {}
    for name, value in fw.named_arrays(model["weights"]).items():
        out[_canonical(name)] = canonical.hwio_to_oihw(value) if value.ndim == 4 else value
    return out


def import_params(model, params):
    named = fw.named_arrays(model["weights"])
    canonical.check_keys(params, [_canonical(n) for n in named])
    model["weights"] = fw.with_arrays(model["weights"], dict(
        (n, canonical.oihw_to_hwio(params[_canonical(n)]) if v.ndim == 4
         else params[_canonical(n)]) for n, v in named.items()))


def outputs(model, x):
    """The eval-mode pooled features (N, 2048) as float32 numpy."""
    return predict(model, x)
