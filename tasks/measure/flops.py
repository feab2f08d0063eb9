"""Floating-point operations per example for each task, counted once from the layer shapes.

    forward_flops(task, p, structure=None)  FLOPs of one example's forward pass
    train_flops(task, p, structure=None)    FLOPs of one example's training step (forward +
                                            backward; the optimiser update is not counted)
    count(task, p, structure=None)          the result's "flops" dict: both, plus the convention

p is the task's hyper-parameters dict (common/params.py). structure names the ResNet-50 family
(inference only; RESNET50 below), from the inference task file's structure family
(canonical.flops_structure of its EQUIVALENCE family).

The convention (the usual one for MFU, and torch.utils.flop_counter's):
* one multiply-add = 2 FLOPs;
* counted: the multiply-adds of convolutions, dense layers and the GRU's matrix products;
* not counted: bias adds, activations (ReLU, sigmoid, tanh), the GRU's element-wise gate
  arithmetic, batch-norm, pooling, dropout, softmax and loss, the embedding lookup (a gather),
  the optimiser update. Each of those is O(activations) or O(parameters), not O(MACs): together
  under 1 % of the CNN's count (for the GRU the gate arithmetic is about 10 H per step against
  6 H (E + H) matrix FLOPs, ~1.3 %); they are memory-bound, and counting them would make MFU
  depend on choices (fused or not) that are not the model's. Leaving bias adds out also makes the
  two GRU forms (one bias vector, old Keras; two, cuDNN / PyTorch / reset_after=True) count the
  same.

Training, per layer with M multiply-adds in its forward pass: forward M, gradient of the weights
M, gradient of the layer's input M, except where no input gradient is needed: the CNN's first
convolution (its input is the data) and the GRU's first step's recurrent product (its state is
the constant zero initial state). So training is 3x forward less those, a count
torch.utils.flop_counter.FlopCounterMode reproduces exactly on the PyTorch adapters
(tests/tasks/test_flops.py); 3x forward would overstate the CNN by 0.7 %.
"""
from __future__ import absolute_import, division, print_function

# ResNet-50's structure families: where a stage's stride sits. The weight shapes are the same in
# all of them (the parameter counts differ only by biases and batch-norm), the FLOPs are not,
# because the layers before the stride run at the higher resolution.
#   torchvision     stride on the 3x3 convolution of each stage's first unit (ResNet "v1.5";
#                   torchvision, Caffe2's resnet, MXNet's pre-activation resnet-50 checkpoint)
#   stride-on-1x1   stride on the first 1x1 convolution of each stage's first unit (the original
#                   ResNet: Keras applications, Caffe's ResNet-50 in Chainer, CNTK's recipe,
#                   Gluon's resnet50_v1)
#   slim            TF-slim resnet_v1_50: stride on the 3x3 convolution of each block's LAST
#                   unit (blocks 1-3), block 4 unstrided; the subsampled shortcut is free
RESNET50 = {
    "torchvision": {"stride_on": "3x3", "stride_unit": "first"},
    "stride-on-1x1": {"stride_on": "1x1", "stride_unit": "first"},
    "slim": {"stride_on": "3x3", "stride_unit": "last"},
}
DEFAULT_STRUCTURE = "torchvision"
CONVENTION = ("multiply-add = 2 FLOPs; convolutions, dense layers and GRU matrix products "
              "counted; bias adds, activations, gate element-wise ops, batch-norm, pooling, "
              "embedding lookup, loss and optimiser not counted; training = forward + weight "
              "gradients + input gradients where needed (none for the first layer's data "
              "input nor the GRU's zero initial state)")


def _conv_macs(h_out, w_out, c_in, c_out, k):
    return h_out * w_out * c_out * c_in * k * k


def _out(size, stride):
    # 'same'-style padding: ceil(size / stride)
    return (size + stride - 1) // stride


def cnn_layers(p):
    """The CNN's layers as (name, forward MACs per example), in order."""
    h, w, c = p["height"], p["width"], p["channels"]
    k, pool = p["kernel"], p["pool"]
    f1, f2 = p["conv1_filters"], p["conv2_filters"]
    layers = [("conv1", _conv_macs(h, w, c, f1, k)),     # 'same' padding: 32x32 out
              ("conv2", _conv_macs(h, w, f1, f1, k))]
    h, w = h // pool, w // pool
    layers += [("conv3", _conv_macs(h, w, f1, f2, k)),
               ("conv4", _conv_macs(h, w, f2, f2, k))]
    h, w = h // pool, w // pool
    flat = h * w * f2
    layers += [("dense1", flat * p["dense_units"]),
               ("dense2", p["dense_units"] * p["n_classes"])]
    return layers


def rnn_macs(p):
    """(input-product MACs per step, recurrent-product MACs per step, steps, dense MACs)."""
    e, hid = p["embedding"], p["hidden"]
    # three gates (update, reset, candidate): W (3H x E) x_t and U (3H x H) h_{t-1}
    return 3 * hid * e, 3 * hid * hid, p["maxlen"], hid * p["n_classes"]


def resnet50_layers(p, structure=None):
    """ResNet-50 cut after global average pooling (no fc): (name, forward MACs) per convolution."""
    structure = structure or DEFAULT_STRUCTURE
    if structure not in RESNET50:
        raise ValueError("unknown ResNet-50 structure %r (known: %s)"
                         % (structure, ", ".join(sorted(RESNET50))))
    s = RESNET50[structure]
    h = _out(p["height"], 2)     # conv1 7x7/2, pad 3: 112
    w = _out(p["width"], 2)
    layers = [("conv1", _conv_macs(h, w, p["channels"], 64, 7))]
    h, w = _out(h, 2), _out(w, 2)  # max-pool 3x3/2: 56
    c_in = 64
    if s["stride_unit"] == "first":
        stages = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
    else:
        stages = ((64, 3, 2), (128, 4, 2), (256, 6, 2), (512, 3, 1))
    for n, (width, units, stride) in enumerate(stages):
        for u in range(units):
            strided = u == (0 if s["stride_unit"] == "first" else units - 1)
            st = stride if strided else 1
            ho, wo = _out(h, st), _out(w, st)
            name = "stage%d_unit%d" % (n + 1, u + 1)
            if s["stride_on"] == "1x1":
                layers.append((name + "_1x1a", _conv_macs(ho, wo, c_in, width, 1)))
                layers.append((name + "_3x3", _conv_macs(ho, wo, width, width, 3)))
            else:
                layers.append((name + "_1x1a", _conv_macs(h, w, c_in, width, 1)))
                layers.append((name + "_3x3", _conv_macs(ho, wo, width, width, 3)))
            layers.append((name + "_1x1b", _conv_macs(ho, wo, width, 4 * width, 1)))
            if c_in != 4 * width:  # projection shortcut (strided with the unit)
                layers.append((name + "_proj", _conv_macs(ho, wo, c_in, 4 * width, 1)))
            c_in, h, w = 4 * width, ho, wo
    return layers


def densenet_layers(p):
    """DenseNet-121 (Huang et al. 2017; torchvision's densenet121 layout): (name, forward MACs)
    per convolution and the classifier. Stem conv 7x7/2 (pad 3) and max-pool 3x3/2 (pad 1); in
    each dense layer a 1x1 convolution to bn_size x growth channels and a 3x3 to growth; between
    blocks a 1x1 transition (x compression) and a 2x2/2 average pool; global pooling, dense."""
    g, bn = p["growth_rate"], p["bn_size"]
    h, w = _out(p["height"], 2), _out(p["width"], 2)
    c = p["num_init_features"]
    layers = [("conv0", _conv_macs(h, w, p["channels"], c, 7))]
    h, w = _out(h, 2), _out(w, 2)
    blocks = p["block_config"]
    for b, n in enumerate(blocks):
        for i in range(n):
            name = "block%d_layer%d" % (b + 1, i + 1)
            layers.append((name + "_1x1", _conv_macs(h, w, c, bn * g, 1)))
            layers.append((name + "_3x3", _conv_macs(h, w, bn * g, g, 3)))
            c += g
        if b < len(blocks) - 1:
            out = int(c * p["compression"])
            layers.append(("transition%d" % (b + 1), _conv_macs(h, w, c, out, 1)))
            c, h, w = out, h // 2, w // 2
    layers.append(("classifier", c * p["n_classes"]))
    return layers


def forward_flops(task, p, structure=None):
    """FLOPs of one example's forward pass (2 per multiply-add)."""
    if task == "cnn":
        return 2 * sum(m for _, m in cnn_layers(p))
    if task == "rnn":
        x, r, steps, dense = rnn_macs(p)
        return 2 * (steps * (x + r) + dense)
    if task == "inference":
        return 2 * sum(m for _, m in resnet50_layers(p, structure))
    if task == "densenet":
        return 2 * sum(m for _, m in densenet_layers(p))
    raise ValueError("unknown task %r" % (task,))


def train_flops(task, p, structure=None):
    """FLOPs of one example's training step: forward, weight gradients, and input gradients
    where the graph needs them."""
    f = forward_flops(task, p, structure)
    if task == "cnn":
        first = 2 * cnn_layers(p)[0][1]  # conv1's input is the data: no input gradient
        return 3 * f - first
    if task == "rnn":
        _, r, _, _ = rnn_macs(p)
        return 3 * f - 2 * r  # step 1's recurrent product has the constant zero state as input
    if task == "inference":
        return None  # not trained
    if task == "densenet":
        first = 2 * densenet_layers(p)[0][1]  # conv0's input is the data: no input gradient
        return 3 * f - first
    raise ValueError("unknown task %r" % (task,))


def count(task, p, structure=None):
    """The result's "flops" dict."""
    if task == "inference":
        structure = structure or DEFAULT_STRUCTURE
    else:
        structure = None
    return {"forward_per_example": forward_flops(task, p, structure),
            "train_per_example": train_flops(task, p, structure),
            "structure": structure, "convention": CONVENTION}


def mfu(task, counted, timings, peak):
    """The result's "mfu" dict: achieved GFLOP/s (training: training examples per second of
    train_seconds x train FLOPs per example; inference: images per second x forward FLOPs) and
    its share of the measured peak (measure/peak.py). The nominal-peak fields stay None here: the
    host fills them in from harness/results/data/gpu_peaks.json when the GPU is one it knows."""
    per_example = counted["forward_per_example" if task == "inference"
                          else "train_per_example"]
    rate = timings.get("images_per_second")
    achieved = rate * per_example / 1e9 if rate and per_example else None
    measured = peak.get("gflops") if peak else None
    return {"achieved_gflops": achieved,
            "of_measured_peak": achieved / measured if achieved and measured else None,
            "measured_peak_gflops": measured,
            "of_nominal_peak": None, "nominal_peak_gflops": None, "nominal_source": None,
            "basis": "inference: images/s x forward FLOPs" if task == "inference"
                     else "training: examples/s (train_seconds) x training FLOPs"}
