"""The canonical parameter format of the model-equivalence check (`dlbench check-models`).

Every adapter can export its model's parameters as one dict of numpy arrays with
framework-neutral names and layouts, and load them back (`export_params`, `import_params` at the
end of each task file). The check draws ONE random parameter set per structure family (this
module: `generate`), computes the family's output with the numpy reference forward
(common/reference.py), has every adapter of that family load the set inside its own image, run a
fixed input batch in eval mode (`outputs`) and compares (`compare`, the tolerance rule below).

Layouts (semantics are NCHW whatever the adapter runs; an NHWC adapter permutes on import and
export, with the helpers at the end of this module):

* convolution kernels OIHW (out, in, kh, kw); biases (out,);
* dense weights (out, in); biases (out,). The CNN's first dense layer reads the flattened
  feature map in NCHW order, (C, H, W): an NHWC adapter, which flattens (H, W, C), permutes its
  rows (`dense_nchw_to_nhwc`);
* embedding `embedding.weight` (V, E);
* GRU `gru.weight_ih` (3H, E), `gru.weight_hh` (3H, H), gate blocks in the order (r, z, n):
  reset, update, new (PyTorch's and cuDNN's order; Keras's is (z, r, n): `reorder_gates`).
  Reset-after form (cuDNN's): `gru.bias_ih` (3H) and `gru.bias_hh` (3H),
      r = s(W_ir x + b_ir + W_hr h + b_hr)      z = s(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   h' = (1 - z) * n + z * h
  The input-bias-only families have no `gru.bias_hh` (it is zero). Reset-before form (Keras 2's
  GRU, reset_after=False): one bias `gru.bias` (3H),
      n = tanh(W_in x + W_hn (r * h) + b_n), r and z as above with b_r, b_z only.
  `gru.h0` (B, H): a trainable initial state (TensorFlow's 2017 input_h), else zeros. An
  adapter whose update gate has the opposite sense (h' = (1 - u) * h + u * n: Lasagne) negates
  that gate's weights and bias on import/export: s(-a) = 1 - s(a), for sigmoid and hard sigmoid
  alike. The classifier is `fc.weight` (2, H), `fc.bias` (2,), on the LAST step's output.
* batch-norm `<name>.weight` (gamma), `.bias` (beta), `.running_mean`, `.running_var`, in eval
  mode y = (x - mean) / sqrt(var + eps) * gamma + beta; eps is the family's (`FAMILIES`).
* CNN (PyTorch's module names): conv1..conv4 .weight/.bias, fc1, fc2.
* ResNet-50: torchvision's state-dict names without fc: `conv1.weight`, `bn1.*`,
  `layer{1-4}.{j}.conv{1,2,3}.weight`, `.bn{1,2,3}.*`, `layer{i}.0.downsample.0.weight` (the
  projection convolution), `layer{i}.0.downsample.1.*` (its batch-norm). Extra entries in the
  same style: a convolution's bias `<conv>.bias` (e.g. `conv1.bias`, `layer1.0.conv2.bias`,
  `layer1.0.downsample.0.bias`): the reference adds a bias wherever one is present. The
  pre-activation family (MXNet's checkpoint network) has `bn_data.*` (fixed gamma = 1, on the
  input), `layer{i}.{j}.bn{k}` normalising the INPUT of conv{k}, no `downsample.1`, and
  `bn_final.*` before the last ReLU and the pooling.
* DenseNet-121 (Huang et al. 2017): torchvision's densenet121 state-dict names with a 14-way
  classifier: `features.conv0.weight` (7x7/2, pad 3), `features.norm0.*`, a 3x3/2 max-pool
  (pad 1), `features.denseblock{b}.denselayer{l}.{norm1,conv1,norm2,conv2}` (b 1-4, l from 1:
  6/12/24/16 layers; BN-ReLU-conv1x1 to 4 x 32, BN-ReLU-conv3x3 pad 1 to 32, concatenated after
  the layer's input), `features.transition{t}.{norm,conv}` (t 1-3: BN-ReLU-conv1x1 halving the
  channels, 2x2/2 average pooling), `features.norm5.*`, ReLU, global average pooling,
  `classifier.weight` (14, 1024), `classifier.bias`; bias-free convolutions. Output: the 14
  logits (before the sigmoid the task's loss applies). The check runs it on CHECK_INPUT's image
  size (64x64: the last block's map is 2x2, so every 3x3 tap and the pooling take part).

Parameter counts: the canonical count (`count`) is the number of values in the set, running
statistics included: the same rule as the inference files' PARAMETERS; except for a family
whose spec says "count": "trainable" (DenseNet-121: its task counts the trainable weights, as
torchvision and Keras do, params.DENSENET["parameters"] = 6,968,206), where the batch-norm
running statistics are left out. The check compares it with the adapter's `count_parameters`.

Tolerance (the one place it is stated): an fp32 output matches its reference when
    max |output - reference| <= RTOL * max(1, max |reference|),   RTOL = 1e-4.

Python 3.5, numpy only: this runs inside every image as well as on the host.
"""
from __future__ import absolute_import, division, print_function
import numpy as np

RTOL = 1e-4
TOLERANCE_RULE = "max abs diff <= 1e-4 * max(1, max abs reference output) (fp32)"

# What each task's output is, as the check reports it.
OUTPUT = {"cnn": "logits (N, 10)", "rnn": "final logits (N, 2)",
          "inference": "pooled features (N, 2048)", "densenet": "logits (N, 14)"}

# The check's input where it is not the task's own: DenseNet-121 at 224x224 costs seconds per
# image in the float64 reference; at 64x64 its four downsamplings after the /4 stem still leave
# a 2x2 map in the last block (every 3x3 tap and the global pooling are exercised). The weights
# do not depend on the image size.
CHECK_INPUT = {"densenet": {"height": 64, "width": 64}}


def check_params(task, p):
    """The task's parameters as the check runs them: a copy with CHECK_INPUT's image size."""
    p = dict(p)
    p.update(CHECK_INPUT.get(task, {}))
    return p

# The structure families. Each adapter declares its family per task (EQUIVALENCE in the task
# file); the properties below are what the reference forward reads, and what the check prints
# when two families are "not comparable" (the properties that differ). One place for them.
_RESNET_DEFAULTS = {
    "stride_conv": "3x3",        # the convolution of a strided bottleneck that carries the stride
    "stride_unit": "first",      # which unit of a stage strides (TF-slim: the last)
    "stage_strides": (1, 2, 2, 2),
    "conv_bias": (),             # which convolutions have a bias: stem, 1x1, 3x3, downsample
    "bn_eps": 1e-5,
    "preact": False,             # pre-activation units, bn_data on the input, bn_final at the end
    "maxpool_pad": (1, 1),       # (before, after) of the stem's 3x3/2 max-pool, -inf padding
    "bn_divisor": "sqrt(var + eps)",  # what batch norm divides by (Keras 2.1's CNTK backend:
                                      # sqrt(var) + eps)
}


def _resnet(doc, **kw):
    spec = dict(_RESNET_DEFAULTS)
    spec.update(kw)
    spec.update({"task": "inference", "doc": doc})
    return spec


def _densenet(doc, **kw):
    spec = {"bn_eps": 1e-5, "count": "trainable"}
    spec.update(kw)
    spec.update({"task": "densenet", "doc": doc})
    return spec


def _gru(doc, **kw):
    spec = {"form": "reset_after", "bias_hh": True, "h0": False, "gate": "sigmoid"}
    spec.update(kw)
    spec.update({"task": "rnn", "doc": doc})
    return spec


FAMILIES = {
    "cnn-vgg": {"task": "cnn", "doc": "the VGG-style CNN of common/params.py: conv3x3 'same' "
                                      "with biases x4, two 2x2 max-pools, dense 512, dense 10"},
    "gru-reset-after": _gru("cuDNN's GRU: reset gate after the recurrent matmul, two bias "
                            "vectors, zero initial state"),
    "gru-reset-after-h0": _gru("cuDNN's GRU with a trainable initial state gru.h0 (B, H): "
                               "2017 TensorFlow's input_h", h0=True),
    "gru-reset-after-input-bias": _gru("reset gate after the recurrent matmul, biases on the "
                                       "input side only (no gru.bias_hh)", bias_hh=False),
    "gru-reset-before": _gru("Keras 2's GRU (reset_after=False): reset gate applied to h before "
                             "the recurrent matmul, one bias vector, hard-sigmoid gates",
                             form="reset_before", bias_hh=False, gate="hard_sigmoid"),
    "gru-reset-before-sigmoid": _gru("CNTK's cntk.layers.GRU: reset gate applied to h before the "
                                     "recurrent matmul, one bias vector, sigmoid gates",
                                     form="reset_before", bias_hh=False),
    "resnet50-torchvision": _resnet("torchvision resnet50 (v1.5): stride on the 3x3 convolution, "
                                    "bias-free convolutions"),
    "resnet50-keras": _resnet("keras.applications ResNet50 (Keras 3): stride on the first 1x1 "
                              "convolution, every convolution biased, BN eps 1.001e-5",
                              stride_conv="1x1", bn_eps=1.001e-5,
                              conv_bias=("stem", "1x1", "3x3", "downsample")),
    "resnet50-keras2": _resnet("keras.applications ResNet50 of Keras 2 (BatchNormalization's "
                               "default eps 1e-3): stride on the first 1x1 convolution, every "
                               "convolution biased", stride_conv="1x1", bn_eps=1e-3,
                               conv_bias=("stem", "1x1", "3x3", "downsample")),
    # 2017's Keras (2.1.4, pinned by the cntk-2.7 image) on its CNTK backend: the stem's
    # max-pool unpadded, 55x55 maps in the first stage (Keras >= 2.2 pads it: 56x56); the stem
    # convolution's padding='same', which CNTK centres on the first pixel (the outputs of
    # padding 3, as resnet50-keras2); and Keras 2.1.4's CNTK batch_normalization divides by
    # sqrt(var) + eps (keras/backend/cntk_backend.py; eps inside the root elsewhere). On
    # TensorFlow, 2.1.4's 'same' pads 2 before at 224: the 2017 keras image's tensorflow
    # variant (not built here) is neither family.
    "resnet50-keras2.1": _resnet("keras.applications ResNet50 of Keras 2.1.x on CNTK: as "
                                 "resnet50-keras2, but the stem's max-pool unpadded and batch "
                                 "norm divided by sqrt(var) + eps",
                                 stride_conv="1x1", bn_eps=1e-3,
                                 conv_bias=("stem", "1x1", "3x3", "downsample"),
                                 maxpool_pad=(0, 0), bn_divisor="sqrt(var) + eps"),
    "resnet50-tfslim": _resnet("TF-slim resnet_v1_50: stride on the 3x3 convolution of each "
                               "block's LAST unit (blocks 1-3), strided shortcuts subsampled, "
                               "max-pool 'SAME' (padding 0 before, 1 after)",
                               stride_unit="last", stage_strides=(2, 2, 2, 1),
                               maxpool_pad=(0, 1)),
    "resnet50-mxnet-preact": _resnet("MXNet's ResNet-50 checkpoint network (pre-activation, He "
                                     "et al. 2016): bn_data on the input, BN-ReLU before each "
                                     "convolution, bn_final, stride on the 3x3, BN eps 2e-5",
                                     preact=True, bn_eps=2e-5),
    "resnet50-gluon-v1": _resnet("Gluon model zoo resnet50_v1: stride on the first 1x1 "
                                 "convolution, the bottlenecks' 1x1 convolutions biased",
                                 stride_conv="1x1", conv_bias=("1x1",)),
    "resnet50-caffe": _resnet("Chainer's ResNet50Layers (the Caffe ResNet-50): stride on the "
                              "first 1x1 convolution, biased stem convolution, BN eps 2e-5, "
                              "max-pool without padding but cover_all (0 before, 1 after)",
                              stride_conv="1x1", conv_bias=("stem",), bn_eps=2e-5,
                              maxpool_pad=(0, 1)),
    "resnet50-cntk": _resnet("CNTK's ResNet-50 recipe: stride on the first 1x1 convolution, "
                             "bias-free convolutions", stride_conv="1x1"),
    "densenet121-torchvision": _densenet("torchvision densenet121 with a 14-way classifier: "
                                         "bias-free convolutions, BN eps 1e-5"),
    "densenet121-keras": _densenet("keras.applications DenseNet121 (pooling='avg') + Dense(14): "
                                   "torchvision's network with BN eps 1.001e-5",
                                   bn_eps=1.001e-5),
}

_DESCRIBE = {
    "stride_conv": "stride on the %s convolution",
    "stride_unit": "strided unit: %s of a stage",
    "stage_strides": "stage strides %s",
    "conv_bias": "biased convolutions: %s",
    "bn_eps": "BN eps %s",
    "preact": "pre-activation: %s",
    "maxpool_pad": "stem max-pool padding %s",
    "bn_divisor": "BN divides by %s",
    "form": "%s GRU",
    "bias_hh": "recurrent bias: %s",
    "h0": "trainable initial state: %s",
    "gate": "%s gates",
}


def _show(key, value):
    if key == "conv_bias":
        value = ", ".join(value) if value else "none"
    return _DESCRIBE[key] % (value,)


def not_comparable_reason(family_a, family_b):
    """Why outputs of two families differ by construction: the properties that differ, or None
    when the two are the same family."""
    a, b = FAMILIES[family_a], FAMILIES[family_b]
    if a["task"] != b["task"]:
        return "different tasks"
    if family_a == family_b:
        return None
    diffs = ["%s vs %s" % (_show(k, a[k]), _show(k, b[k])) for k in sorted(_DESCRIBE)
             if k in a and a.get(k) != b.get(k)]
    return "; ".join(diffs) or "different networks (%s vs %s)" % (a["doc"], b["doc"])


# ---------------------------------------------------------------- parameter sets


def _he(rng, shape, fan_in, gain=1.0):
    return (rng.standard_normal(shape) * gain * np.sqrt(2.0 / fan_in)).astype(np.float32)


def _uniform(rng, shape, limit):
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def _bn(rng, out, name, n, gamma=(0.5, 1.0), fixed_gamma=False):
    out[name + ".weight"] = (np.ones(n) if fixed_gamma else rng.uniform(
        gamma[0], gamma[1], size=n)).astype(np.float32)
    out[name + ".bias"] = _uniform(rng, (n,), 0.1)
    out[name + ".running_mean"] = _uniform(rng, (n,), 0.1)
    out[name + ".running_var"] = rng.uniform(0.8, 1.2, size=n).astype(np.float32)


def _cnn_params(rng, p):
    c, c1, c2, k = p["channels"], p["conv1_filters"], p["conv2_filters"], p["kernel"]
    out = {}
    for name, (o, i) in (("conv1", (c1, c)), ("conv2", (c1, c1)), ("conv3", (c2, c1)),
                         ("conv4", (c2, c2))):
        out[name + ".weight"] = _he(rng, (o, i, k, k), i * k * k)
        out[name + ".bias"] = _uniform(rng, (o,), 0.05)
    flat = c2 * (p["height"] // 4) * (p["width"] // 4)
    out["fc1.weight"] = _he(rng, (p["dense_units"], flat), flat)
    out["fc1.bias"] = _uniform(rng, (p["dense_units"],), 0.05)
    out["fc2.weight"] = _he(rng, (p["n_classes"], p["dense_units"]), p["dense_units"])
    out["fc2.bias"] = _uniform(rng, (p["n_classes"],), 0.05)
    return out


def _gru_params(rng, p, spec):
    v, e, h, b = p["max_features"], p["embedding"], p["hidden"], p["batch_size"]
    lim = 1.0 / np.sqrt(h)
    out = {"embedding.weight": rng.standard_normal((v, e)).astype(np.float32),
           "gru.weight_ih": _uniform(rng, (3 * h, e), lim),
           "gru.weight_hh": _uniform(rng, (3 * h, h), lim)}
    if spec["form"] == "reset_before":
        out["gru.bias"] = _uniform(rng, (3 * h,), lim)
    else:
        out["gru.bias_ih"] = _uniform(rng, (3 * h,), lim)
        if spec["bias_hh"]:
            out["gru.bias_hh"] = _uniform(rng, (3 * h,), lim)
    if spec["h0"]:
        out["gru.h0"] = _uniform(rng, (b, h), 0.5)
    out["fc.weight"] = _uniform(rng, (p["n_classes"], h), 1.0 / np.sqrt(h) * 3)
    out["fc.bias"] = _uniform(rng, (p["n_classes"],), 0.1)
    return out


RESNET_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # (width, units): He et al. 2015


def resnet_units(spec):
    """[(name, in_channels, planes, stride, projection)] for every bottleneck, in order."""
    units, inplanes = [], 64
    for i, ((planes, blocks), stride) in enumerate(zip(RESNET_STAGES, spec["stage_strides"])):
        for j in range(blocks):
            strided = j == (0 if spec["stride_unit"] == "first" else blocks - 1)
            units.append(("layer%d.%d" % (i + 1, j), inplanes, planes,
                          stride if strided else 1, inplanes != planes * 4))
            inplanes = planes * 4
    return units


def _resnet_params(rng, p, spec):
    out, bias = {}, spec["conv_bias"]

    def conv(name, o, i, k, kind, gain=1.0):
        out[name + ".weight"] = _he(rng, (o, i, k, k), i * k * k, gain)
        if kind in bias:
            out[name + ".bias"] = _uniform(rng, (o,), 0.05)

    if spec["preact"]:
        _bn(rng, out, "bn_data", p["channels"], fixed_gamma=True)
    conv("conv1", 64, p["channels"], 7, "stem")
    _bn(rng, out, "bn1", 64)
    for name, inplanes, planes, _stride, projection in resnet_units(spec):
        if spec["preact"]:
            # BN before each convolution; the branch's last convolution scaled down so the
            # residual sum stays O(1) over 16 units
            _bn(rng, out, name + ".bn1", inplanes)
            conv(name + ".conv1", planes, inplanes, 1, "1x1")
            _bn(rng, out, name + ".bn2", planes)
            conv(name + ".conv2", planes, planes, 3, "3x3")
            _bn(rng, out, name + ".bn3", planes)
            conv(name + ".conv3", planes * 4, planes, 1, "1x1", gain=0.3)
            if projection:
                conv(name + ".downsample.0", planes * 4, inplanes, 1, "downsample")
        else:
            conv(name + ".conv1", planes, inplanes, 1, "1x1")
            _bn(rng, out, name + ".bn1", planes)
            conv(name + ".conv2", planes, planes, 3, "3x3")
            _bn(rng, out, name + ".bn2", planes)
            conv(name + ".conv3", planes * 4, planes, 1, "1x1")
            _bn(rng, out, name + ".bn3", planes * 4, gamma=(0.1, 0.3))  # residual stays O(1)
            if projection:
                conv(name + ".downsample.0", planes * 4, inplanes, 1, "downsample")
                _bn(rng, out, name + ".downsample.1", planes * 4)
    if spec["preact"]:
        _bn(rng, out, "bn_final", 2048)
    return out


DENSENET_LAYER_BN = ("norm1", "norm2")


def densenet_units(p):
    """[(canonical name, kind, in_channels, out_channels)] of DenseNet-121's dense layers and
    transitions in network order ("features.denseblock1.denselayer1", "layer", 64, 96), ...,
    ("features.transition1", "transition", 256, 128), ...; out_channels: the channels after it
    (a layer's input and its growth concatenated). The flat order an adapter keeps its layers
    in (a ChainList, a list of modules)."""
    units, channels = [], p["num_init_features"]
    for b, n in enumerate(p["block_config"]):
        for l in range(n):
            units.append(("features.denseblock%d.denselayer%d" % (b + 1, l + 1), "layer",
                          channels, channels + p["growth_rate"]))
            channels += p["growth_rate"]
        if b != len(p["block_config"]) - 1:
            out = int(channels * p["compression"])
            units.append(("features.transition%d" % (b + 1), "transition", channels, out))
            channels = out
    return units


def densenet_unit_names(kinds):
    """The canonical names of a flat sequence of DenseNet units, each "layer" (a dense layer)
    or "transition", in network order (an adapter that keeps them in one list):
    features.denseblock1.denselayer1 .. features.transition1, features.denseblock2.denselayer1 .."""
    names, block, layer = [], 1, 0
    for kind in kinds:
        if kind == "transition":
            names.append("features.transition%d" % block)
            block, layer = block + 1, 0
        else:
            layer += 1
            names.append("features.denseblock%d.denselayer%d" % (block, layer))
    return names


def densenet_features(p):
    """The channels norm5 (and the classifier) sees: 1024 for DenseNet-121."""
    return densenet_units(p)[-1][3]


def _densenet_params(rng, p):
    out = {}
    width, growth = p["bn_size"] * p["growth_rate"], p["growth_rate"]

    def conv(name, o, i, k):
        out[name + ".weight"] = _he(rng, (o, i, k, k), i * k * k)

    conv("features.conv0", p["num_init_features"], p["channels"], 7)
    _bn(rng, out, "features.norm0", p["num_init_features"])
    for name, kind, cin, cout in densenet_units(p):
        if kind == "layer":
            _bn(rng, out, name + ".norm1", cin)
            conv(name + ".conv1", width, cin, 1)
            _bn(rng, out, name + ".norm2", width)
            conv(name + ".conv2", growth, width, 3)
        else:
            _bn(rng, out, name + ".norm", cin)
            conv(name + ".conv", cout, cin, 1)
    features = densenet_features(p)
    _bn(rng, out, "features.norm5", features)
    # logits of order 1 (the tolerance's floor), so 1e-4 is tight relative to them
    out["classifier.weight"] = _uniform(rng, (p["n_classes"], features),
                                        8.0 / np.sqrt(features))
    out["classifier.bias"] = _uniform(rng, (p["n_classes"],), 0.1)
    return out


def generate(family, p, seed=0):
    """One random canonical parameter set for the family, float32, seeded; scaled so the
    activations stay O(1) (He-scaled weights, batch-norm statistics near identity)."""
    spec = FAMILIES[family]
    rng = np.random.RandomState(seed)
    if spec["task"] == "cnn":
        return _cnn_params(rng, p)
    if spec["task"] == "rnn":
        return _gru_params(rng, p, spec)
    if spec["task"] == "densenet":
        return _densenet_params(rng, p)
    return _resnet_params(rng, p, spec)


def make_input(task, p, n, seed=0):
    """The fixed input batch, NCHW float32 images in [0, 1) or int32 word indices (zero padding
    at the end of some rows, as the IMDB preprocessing pads)."""
    rng = np.random.RandomState(seed + 1000)
    if task == "rnn":
        x = rng.randint(p["index_from"], p["max_features"], size=(n, p["maxlen"]))
        for row in range(0, n, 2):  # every other example shorter: zeros at the end
            x[row, rng.randint(p["maxlen"] // 2, p["maxlen"]):] = 0
        return x.astype(np.int32)
    return rng.rand(n, p["channels"], p["height"], p["width"]).astype(np.float32)


RUNNING_STATISTICS = (".running_mean", ".running_var")


def count(params, family=None):
    """The canonical parameter count: every value in the set; for a family counted "trainable"
    (DenseNet-121), every value but the batch-norm running statistics."""
    trainable = family is not None and FAMILIES[family].get("count") == "trainable"
    return int(sum(int(np.prod(a.shape)) for k, a in params.items()
                   if not (trainable and k.endswith(RUNNING_STATISTICS))))


def check_keys(params, expected):
    """Raise KeyError naming missing and unexpected names (an import must use every entry)."""
    missing = sorted(set(expected) - set(params))
    extra = sorted(set(params) - set(expected))
    if missing or extra:
        raise KeyError("canonical parameters: missing %s; unexpected %s"
                       % (", ".join(missing[:8]) or "none", ", ".join(extra[:8]) or "none"))


def checked(value, name, shape):
    """value as float32, or ValueError naming the canonical array when its shape is not the
    network's (an import never reshapes silently)."""
    value = np.asarray(value, dtype=np.float32)
    if value.shape != tuple(shape):
        raise ValueError("%s: shape %s, this network's is %s" % (name, value.shape,
                                                                 tuple(shape)))
    return value


def save(path, arrays):
    np.savez(path, **arrays)


def load(path):
    with np.load(path) as f:
        return dict((k, f[k]) for k in f.files)


# ---------------------------------------------------------------- comparison


def compare(reference, output):
    """{"ok", "max_abs_diff", "scale", "max_rel_diff", "tolerance", "problem"} of an output
    against its reference, by the tolerance rule above."""
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(output, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    result = {"ok": False, "max_abs_diff": None, "scale": scale, "max_rel_diff": None,
              "tolerance": RTOL * scale, "problem": None}
    if out.shape != ref.shape:
        result["problem"] = "shape %s, reference %s" % (tuple(out.shape), tuple(ref.shape))
        return result
    if not np.all(np.isfinite(out)):
        result["problem"] = "non-finite values in the output"
        return result
    diff = float(np.max(np.abs(out - ref))) if ref.size else 0.0
    result.update(max_abs_diff=diff, max_rel_diff=diff / scale, ok=diff <= RTOL * scale)
    return result


# ---------------------------------------------------------------- layout helpers


def oihw_to_hwio(w):
    """Canonical conv kernel to TensorFlow/Keras/Flax's (kh, kw, in, out)."""
    return np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)))


def hwio_to_oihw(w):
    return np.ascontiguousarray(np.transpose(w, (3, 2, 0, 1)))


def dense_to_io(w):
    """Canonical (out, in) dense weight to the (in, out) kernel of TF/Keras/Flax."""
    return np.ascontiguousarray(np.transpose(w))


def dense_nchw_to_nhwc(w, c, h, width):
    """The first dense layer after a flatten, (out, C*H*W) in NCHW flatten order, to the
    (out, H*W*C) order an NHWC adapter flattens in."""
    o = w.shape[0]
    return np.ascontiguousarray(w.reshape(o, c, h, width).transpose(0, 2, 3, 1).reshape(o, -1))


def dense_nhwc_to_nchw(w, c, h, width):
    o = w.shape[0]
    return np.ascontiguousarray(w.reshape(o, h, width, c).transpose(0, 3, 1, 2).reshape(o, -1))


def cnn_weight_to_nhwc(name, w, chw, layout="NHWC"):
    """A canonical weight of the CNN's layer `name` (conv1..conv4, fc1, fc2) in the layout of
    an NHWC adapter (TensorFlow, Keras, Flax): convolutions HWIO, dense (in, out), fc1's inputs
    in NHWC flatten order (chw: cnn_flat_shape of the network). layout "NCHW": the same
    adapter's channels-first program (its GPU layout), which flattens in the canonical order."""
    if name.startswith("conv"):
        return oihw_to_hwio(w)
    if name == "fc1" and layout == "NHWC":
        w = dense_nchw_to_nhwc(w, *chw)
    return dense_to_io(w)


def cnn_weight_from_nhwc(name, kernel, chw, layout="NHWC"):
    """The inverse of cnn_weight_to_nhwc: an NHWC adapter's kernel of layer `name` in the
    canonical layout."""
    if name.startswith("conv"):
        return hwio_to_oihw(kernel)
    w = np.ascontiguousarray(np.transpose(kernel))
    if name == "fc1" and layout == "NHWC":
        w = dense_nhwc_to_nchw(w, *chw)
    return w


# The CNN's weights in network order, each layer's weight then its bias: the order a framework
# that lists its parameters front to back holds them (Theano's list, Lasagne's get_all_params)
CNN_WEIGHTS = tuple("%s.%s" % (layer, kind) for layer in ("conv1", "conv2", "conv3", "conv4",
                                                            "fc1", "fc2")
                    for kind in ("weight", "bias"))


def swap_true_convolution(value):
    """A CNN weight of a framework whose convolution is a true one (Theano's conv2d flips its
    filters: Theano, Lasagne) <-> the canonical form, either way (its own inverse): a kernel
    flipped in both spatial axes (the canonical ones are cross-correlations), a dense weight
    (in, out) transposed, a bias as it is."""
    value = np.asarray(value, dtype=np.float32)
    if value.ndim == 4:
        return value[:, :, ::-1, ::-1].copy()
    if value.ndim == 2:
        return value.T.copy()
    return value.copy()


def cnn_flat_shape(fc1_inputs, channels):
    """(C, H, W) of the CNN's flattened feature map (square), from fc1's input width and the
    last convolution's channels: what dense_nchw_to_nhwc needs."""
    side = int(round(np.sqrt(fc1_inputs // channels)))
    if side * side * channels != fc1_inputs:
        raise ValueError("fc1 reads %d values, not a square map of %d channels"
                         % (fc1_inputs, channels))
    return channels, side, side


def resnet_unit_names():
    """"layer1.0" .. "layer4.2": the 16 bottlenecks of ResNet-50, in order."""
    return ["layer%d.%d" % (i + 1, j) for i, (_w, blocks) in enumerate(RESNET_STAGES)
            for j in range(blocks)]


def reorder_gates(w, order_from, order_to, axis=0):
    """Reorder the three gate blocks of a GRU weight or bias along axis, e.g. Keras's "zrn" to
    canonical "rzn"."""
    blocks = np.split(np.asarray(w), 3, axis=axis)
    by_gate = dict(zip(order_from, blocks))
    return np.ascontiguousarray(np.concatenate([by_gate[g] for g in order_to], axis=axis))


def family_for(equivalence, variant):
    """The family a task file's EQUIVALENCE declares for this variant (its "variants" map, else
    its "family"), or None when the file declares none."""
    equivalence = equivalence or {}
    return equivalence.get("variants", {}).get(variant, equivalence.get("family"))


def flops_structure(family):
    """Where a ResNet-50 family's stride sits, as measure/flops.py counts it (the FLOPs differ,
    the weights do not): "slim" (the last unit of a block), "stride-on-1x1", or "torchvision"
    (the 3x3); None for a family that is not a ResNet-50. Read from FAMILIES: one place."""
    spec = FAMILIES.get(family)
    if not spec or spec["task"] != "inference":
        return None
    if spec["stride_unit"] == "last":
        return "slim"
    return "stride-on-1x1" if spec["stride_conv"] == "1x1" else "torchvision"
