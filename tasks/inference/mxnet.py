"""Inference (ResNet-50 feature extraction) in MXNet, both APIs the 2017 benchmark ran.

module: notebook MXNet_Inference loaded MXNet's own ImageNet ResNet-50 checkpoint
(resnet-50-symbol.json and resnet-50-0000.params from data.mxnet.io) and bound a Module to its
internal output 'flatten0_output' (global average pooling, 2048 features). Nothing outside is
reachable while a benchmark runs and that symbol file is not kept here, so the same network is
written out with mx.sym, following the structure of MXNet's example
image-classification/symbols/resnet.py that made it: the pre-activation ResNet-50 ("Identity
Mappings in Deep Residual Networks", He et al. 2016; stages of 3, 4, 6, 3 bottlenecks, stride
on the 3x3 convolution, bias-free convolutions), a fixed-gamma batch-norm on the input
(bn_data), a final batch-norm and ReLU before the pooling. Its parameter names are the
checkpoint's, so --weights resnet-50-0000.params loads.
gluon: notebook Gluon_Inference's model zoo resnet50_v1 (the original ResNet: stride on the
first 1x1 convolution, biased 1x1 convolutions), its .features (up to global average pooling),
hybridized with static memory where the version can (MXNet >= 1.3).
Random weights in both (the 2017 protocol times random images); NCHW; batch 32.
"""
import numpy as np
import mxnet as mx

from common import canonical
from frameworks import mxnet as fw

# common/canonical.py FAMILIES: the module variants run MXNet's checkpoint network, the gluon
# ones the model zoo's resnet50_v1
EQUIVALENCE = {"family": "resnet50-mxnet-preact",
               "variants": {"gluon": "resnet50-gluon-v1", "gluon-tuned": "resnet50-gluon-v1"}}
SETTINGS = {"layout": "NCHW",
            "network": "module: MXNet's resnet-50 checkpoint structure (pre-activation, "
                       "cut at flatten0); gluon: model zoo resnet50_v1 .features"}

# Every weight the network holds, batch-norm running statistics included (Keras's "Total
# params"). The two APIs ran two different ResNet-50s, so there are two counts:
#   module 23,546,060: convolution weights 23,454,912 (bias-free, the same convolutions as
#     torchvision's), 53 batch-norms with gamma, beta, mean and variance over 22,787 channels
#     (bn_data's 3 included): 91,148
#   gluon  23,580,032: torchvision's 23,561,152 plus the biases of each bottleneck's two 1x1
#     convolutions (18,880)
# run.py asserts PARAMETERS; it is the module's, and build_model sets the gluon count when the
# variant is gluon (the contract has one PARAMETERS per task file).
PARAMETERS = 23546060
PARAMETERS_GLUON = 23580032


def _unit(x, filters, stride, project, name):
    """One pre-activation bottleneck: BN-ReLU-conv 1x1, BN-ReLU-conv 3x3 (stride), BN-ReLU-conv
    1x1 (4x wider), plus the shortcut (a strided 1x1 projection of the activated input in the
    first unit of a stage)."""
    sym = mx.sym
    act = sym.Activation(sym.BatchNorm(x, fix_gamma=False, eps=2e-5, name=name + "_bn1"),
                         act_type="relu", name=name + "_relu1")
    y = sym.Convolution(act, num_filter=filters // 4, kernel=(1, 1), no_bias=True,
                        name=name + "_conv1")
    y = sym.Activation(sym.BatchNorm(y, fix_gamma=False, eps=2e-5, name=name + "_bn2"),
                       act_type="relu", name=name + "_relu2")
    y = sym.Convolution(y, num_filter=filters // 4, kernel=(3, 3), stride=stride, pad=(1, 1),
                        no_bias=True, name=name + "_conv2")
    y = sym.Activation(sym.BatchNorm(y, fix_gamma=False, eps=2e-5, name=name + "_bn3"),
                       act_type="relu", name=name + "_relu3")
    y = sym.Convolution(y, num_filter=filters, kernel=(1, 1), no_bias=True,
                        name=name + "_conv3")
    shortcut = x
    if project:
        shortcut = sym.Convolution(act, num_filter=filters, kernel=(1, 1), stride=stride,
                                   no_bias=True, name=name + "_sc")
    return y + shortcut


def _symbol():
    """The resnet-50 checkpoint's network up to 'flatten0' (MXNet_Inference)."""
    sym = mx.sym
    x = sym.BatchNorm(sym.Variable("data"), fix_gamma=True, eps=2e-5, name="bn_data")
    x = sym.Convolution(x, num_filter=64, kernel=(7, 7), stride=(2, 2), pad=(3, 3),
                        no_bias=True, name="conv0")
    x = sym.Activation(sym.BatchNorm(x, fix_gamma=False, eps=2e-5, name="bn0"),
                       act_type="relu", name="relu0")
    x = sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max")
    for stage, (units, filters) in enumerate(((3, 256), (4, 512), (6, 1024), (3, 2048))):
        for unit in range(units):
            stride = (2, 2) if stage > 0 and unit == 0 else (1, 1)
            x = _unit(x, filters, stride, unit == 0, "stage%d_unit%d" % (stage + 1, unit + 1))
    x = sym.Activation(sym.BatchNorm(x, fix_gamma=False, eps=2e-5, name="bn1"),
                       act_type="relu", name="relu1")
    x = sym.Pooling(x, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    return sym.Flatten(x, name="flatten0")  # 2048 features


def build_model(p):
    global PARAMETERS
    if fw.DEVICE["api"] == "gluon":
        PARAMETERS = PARAMETERS_GLUON
    shape = (p["batch_size"], p["channels"], p["height"], p["width"])
    if fw.DEVICE["api"] == "module":
        model = mx.mod.Module(_symbol(), context=fw.DEVICE["ctx"], label_names=None)
        model.bind(data_shapes=[("data", shape)], for_training=False)  # moving statistics
        model.init_params(initializer=mx.init.Xavier(rnd_type="uniform"))
        return model
    resnet = mx.gluon.model_zoo.vision.resnet50_v1(pretrained=False)
    model = resnet.features  # up to global average pooling (MXNet >= 1.0)
    if hasattr(resnet, "classifier"):  # MXNet 0.12 kept the pooling in the classifier
        model.add(mx.gluon.nn.GlobalAvgPool2D())
    model.initialize(mx.init.Xavier(), ctx=fw.DEVICE["ctx"])
    model(mx.nd.zeros((1,) + shape[1:], ctx=fw.DEVICE["ctx"]))  # sizes the batch-norms
    try:
        model.hybridize(static_alloc=True, static_shape=True)  # as Gluon_Inference (>= 1.3)
    except TypeError:
        model.hybridize()
    return model


def count_parameters(model):
    if fw.DEVICE["api"] == "module":
        weights, statistics = model.get_params()
        return sum(w.size for w in list(weights.values()) + list(statistics.values()))
    return sum(w.data().size for w in model.collect_params().values())


def load_weights(model, path):
    # before the first forward pass (as run.py calls it): MXNet 1.x's oneDNN graph folds the
    # batch-norms into the convolutions' weights on the first inference pass
    saved = mx.nd.load(path)
    if fw.DEVICE["api"] == "module":  # a checkpoint's .params: "arg:NAME" / "aux:NAME"
        weights, statistics = model.get_params()
        arg = dict((k[4:], v) for k, v in saved.items() if k[4:] in weights)
        aux = dict((k[4:], v) for k, v in saved.items() if k[4:] in statistics)
        model.set_params(arg, aux)  # fc1 (the classifier) is left out
        return
    # a model zoo resnet50_v1 file: "features.N..." names (MXNet >= 1.3), "output..." dropped
    by_prefix = getattr(model, "_collect_params_with_prefix", None)
    if by_prefix is None:  # MXNet 0.12: files name parameters by their global names
        model.collect_params().load(path, ctx=fw.DEVICE["ctx"], ignore_extra=True)
        return
    own = by_prefix()
    for name, value in saved.items():
        if name.startswith("features."):
            own[name[len("features."):]].set_data(value)


def _array(array):
    return mx.nd.array(array, ctx=fw.DEVICE["ctx"])  # host-to-device copy, timed as in 2017


def predict(model, x):
    if fw.DEVICE["api"] == "module":
        model.forward(mx.io.DataBatch(data=[_array(x)], label=None), is_train=False)
        out = model.get_outputs()[0]
    else:
        out = model(_array(x))  # (N, 2048, 1, 1)
    # the features stay on the device: 2017's MXNet_Inference wrote them into an NDArray on its
    # context and waited once (nd.waitall), Gluon_Inference copied them to the host once, after
    # the last batch; a copy per batch would block MXNet's asynchronous engine every batch
    return out.reshape((x.shape[0], -1))


def sync(model):
    mx.nd.waitall()



# Model equivalence (dlbench check-models): the weights in the canonical form (common/
# canonical.py). The two APIs ran two ResNet-50 families (the module docstring):
#   module  resnet50-mxnet-preact: MXNet's checkpoint names, renamed: bn_data -> bn_data, conv0
#           -> conv1, bn0 -> bn1, stage<S>_unit<U>_{bn1,conv1,bn2,conv2,bn3,conv3} ->
#           layer<S>.<U-1>.{...} (bn<k> normalises the INPUT of conv<k>), stage<S>_unit<U>_sc ->
#           layer<S>.<U-1>.downsample.0, the final bn1 -> bn_final; gamma/beta/moving_mean/
#           moving_var -> .weight/.bias/.running_mean/.running_var. bn_data's gamma is fixed
#           at 1 (fix_gamma): exported as ones, set to ones on import.
#   gluon   resnet50-gluon-v1: torchvision's names plus the biases of each bottleneck's 1x1
#           convolutions (layer<S>.<U>.conv1.bias, .conv3.bias), mapped by Gluon's
#           registration order (resnet50_v1's names are counters, not structure).
# Convolutions are OIHW in MXNet already.
_SUFFIXES = (("_gamma", ".weight"), ("_beta", ".bias"), ("_moving_mean", ".running_mean"),
             ("_moving_var", ".running_var"), ("_weight", ".weight"))
_TOP = {"bn_data": "bn_data", "conv0": "conv1", "bn0": "bn1", "bn1": "bn_final"}


def _canonical_name(name):
    """The canonical name of a weight of the module's network (pre-activation)."""
    for suffix, canonical_suffix in _SUFFIXES:
        if name.endswith(suffix):
            layer = name[:-len(suffix)]
            break
    else:
        raise ValueError("no canonical name for MXNet's %s" % name)
    if layer in _TOP:
        return _TOP[layer] + canonical_suffix
    stage, unit, part = layer.split("_", 2)  # stage1_unit1_conv1
    part = "downsample.0" if part == "sc" else part
    return "layer%d.%d.%s%s" % (int(stage[len("stage"):]), int(unit[len("unit"):]) - 1, part,
                                canonical_suffix)


def _gluon_v1_names():
    """The canonical names of resnet50_v1's weights, in the order Gluon registers them."""
    def bn(name):
        return [name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"]
    names = ["conv1.weight"] + bn("bn1")
    for stage, blocks in enumerate((3, 4, 6, 3)):
        for i in range(blocks):
            pre = "layer%d.%d." % (stage + 1, i)
            names += [pre + "conv1.weight", pre + "conv1.bias"] + bn(pre + "bn1")
            names += [pre + "conv2.weight"] + bn(pre + "bn2")
            names += [pre + "conv3.weight", pre + "conv3.bias"] + bn(pre + "bn3")
            if i == 0:
                names += [pre + "downsample.0.weight"] + bn(pre + "downsample.1")
    return names


def _gluon_pairs(model):
    own = list(model.collect_params().keys())  # a ParameterDict has no len()
    names = _gluon_v1_names()
    if len(own) != len(names):
        raise ValueError("the Gluon ResNet-50 holds %d arrays, resnet50_v1 %d"
                         % (len(own), len(names)))
    return list(zip(names, own))


def export_params(model):
    if fw.DEVICE["api"] == "module":
        weights, statistics = model.get_params()
        out = dict((_canonical_name(n), v.asnumpy())
                   for n, v in list(weights.items()) + list(statistics.items()))
        out["bn_data.weight"] = np.ones_like(out["bn_data.weight"])  # fix_gamma: used as 1
        return out
    own = model.collect_params()
    return dict((c, own[n].data().asnumpy()) for c, n in _gluon_pairs(model))


def _value(params, name, shape):
    return canonical.checked(params[name], name, shape)


def import_params(model, params):
    # before the first forward pass, as load_weights (oneDNN folds the batch-norms then)
    if fw.DEVICE["api"] == "module":
        weights, statistics = model.get_params()
        canonical.check_keys(params, [_canonical_name(n) for n in
                                      list(weights) + list(statistics)])
        new = [dict((n, mx.nd.array(_value(params, _canonical_name(n), v.shape)))
                    for n, v in group.items()) for group in (weights, statistics)]
        new[0]["bn_data_gamma"] = mx.nd.ones(weights["bn_data_gamma"].shape)  # fix_gamma
        model.set_params(new[0], new[1], force_init=True)
        return
    pairs = _gluon_pairs(model)
    canonical.check_keys(params, [c for c, _ in pairs])
    own = model.collect_params()
    for c, n in pairs:
        own[n].set_data(mx.nd.array(_value(params, c, own[n].shape), ctx=fw.DEVICE["ctx"]))


def outputs(model, x):
    """The (N, 2048) pooled features of a batch, as numpy (eval mode: running statistics)."""
    return predict(model, x).asnumpy()
