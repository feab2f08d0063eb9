"""Inference (ResNet-50 feature extraction) in Caffe2.

One file serves the 2017 image (Caffe2 v0.8.1, Python 3.5) and the Caffe2 of the torch 1.8.1
wheel. 2017's Caffe2_Inference notebook (ilkarman/DeepLearningFrameworks,
notebooks/Caffe2_Inference.ipynb) loaded a pre-trained ResNet-50 from two protobuf files of the
Caffe2 model zoo (resnet50_init_net.pb / resnet50_predict_net.pb, from github; not reachable from
where this project builds), fed NCHW random images in batches of 32 with FeedBlob, ran the net
with workspace.RunNet and fetched the 'pool5' blob (global average pooling, 2048 features). The
network is written out here with brew instead, so the image needs no download: ResNet-50 as
Caffe2's own builder, caffe2.python.models.resnet (create_resnet50), lays it out: bias-free
convolutions with MSRAFill weights, stride 2 on the 3x3 convolution of each stage's first
bottleneck, a projection shortcut where the width changes, SpatialBN after every convolution
(is_test: running statistics), cut after the 7x7 average pool. Where that builder changed between
v0.8.1 and 1.8.1 this file follows 1.8.1 (and torchvision): the 3x3 max pool is padded (56x56
maps; v0.8.1's was not: 55x55) and batch-norm epsilon is 1e-5 (v0.8.1: 1e-3). ResNet-50 layout:
He et al. 2015, table 1. Blob names follow the model zoo's style (conv1_w, res2_0_branch2a_w,
res2_0_branch2a_bn_s/_b/_rm/_riv, ...); not checked against a zoo file.
"""
import numpy as np
from caffe2.proto import caffe2_pb2
from caffe2.python import brew, core, model_helper, workspace

from common import canonical
from frameworks import caffe2 as fw

EQUIVALENCE = {"family": "resnet50-torchvision"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NCHW",
            "network": "caffe2.python.models.resnet ResNet-50 structure, written out with "
                       "brew, cut after the average pool (blob pool5)"}

# Every weight the network holds, batch-norm running statistics included (Keras's "Total
# params"): the same structure as torchvision's resnet50 without fc (bias-free convolutions, each
# SpatialBN holding scale, bias, running mean and running variance), so the same count.
PARAMETERS = 23561152


def _conv_bn(m, x, name, dim_in, dim_out, kernel, stride=1, pad=0, relu=True):
    x = brew.conv(m, x, name, dim_in=dim_in, dim_out=dim_out, kernel=kernel, stride=stride,
                  pad=pad, no_bias=1, weight_init=("MSRAFill", {}))
    x = brew.spatial_bn(m, x, name + "_bn", dim_out, epsilon=1e-5)
    return brew.relu(m, x, x) if relu else x  # in place


def _bottleneck(m, x, name, dim_in, width, stride):
    dim_out = width * 4  # expansion 4
    out = _conv_bn(m, x, name + "_branch2a", dim_in, width, 1)
    out = _conv_bn(m, out, name + "_branch2b", width, width, 3, stride=stride, pad=1)
    out = _conv_bn(m, out, name + "_branch2c", width, dim_out, 1, relu=False)
    shortcut = x
    if stride != 1 or dim_in != dim_out:
        shortcut = _conv_bn(m, x, name + "_branch1", dim_in, dim_out, 1, stride=stride,
                            relu=False)
    out = brew.sum(m, [shortcut, out], name + "_sum")
    return brew.relu(m, out, out)


def _create(m, p):
    x = _conv_bn(m, "data", "conv1", p["channels"], 64, 7, stride=2, pad=3)
    x = brew.max_pool(m, x, "pool1", kernel=3, stride=2, pad=1)
    dim_in = 64
    for stage, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                     (512, 3, 2))):
        for i in range(blocks):
            x = _bottleneck(m, x, "res%d_%d" % (stage + 2, i), dim_in, width,
                            stride if i == 0 else 1)
            dim_in = width * 4
    # global average pooling: 7x7 -> 1x1, 2048 features (2017 fetched this blob, 'pool5')
    return brew.average_pool(m, x, "pool5", kernel=p["height"] // 32, stride=1)


def build_model(p):
    scope = {"order": "NCHW", "is_test": True}  # inference: batch-norm's running statistics
    if fw.DEVICE["gpu"]:
        # cuDNN without exhaustive search: 2017's Caffe2_Inference ran the model zoo's
        # ResNet-50 net as stored (Caffe2_CNN asked for the search: tasks/cnn/caffe2.py)
        scope.update(use_cudnn=True)
    model = model_helper.ModelHelper(name="resnet50", arg_scope=scope)
    opts = fw.DEVICE["opts"]
    with core.DeviceScope(opts):
        model.features = _create(model, p)
    workspace.FeedBlob("data", np.zeros((p["batch_size"], p["channels"], p["height"],
                                         p["width"]), np.float32), device_option=opts)
    workspace.RunNetOnce(model.param_init_net)
    workspace.CreateNet(model.net)
    return model


def count_parameters(model):
    # every blob the init net fills (weights and batch-norm statistics), by its filler's shape
    total = 0
    for op in model.param_init_net.Proto().op:
        shape = [a.ints for a in op.arg if a.name == "shape"][0]
        total += int(np.prod(shape))
    return total


def load_weights(model, path):
    # a Caffe2 init net (NetDef protobuf, as 2017's resnet50_init_net.pb) run on this device;
    # every weight of the network must come out of it with its shape
    init = caffe2_pb2.NetDef()
    with open(path, "rb") as f:
        init.ParseFromString(f.read())
    init.device_option.CopyFrom(fw.DEVICE["opts"])
    for op in init.op:
        op.device_option.CopyFrom(fw.DEVICE["opts"])
    expected = {}
    for op in model.param_init_net.Proto().op:
        expected[op.output[0]] = tuple([a.ints for a in op.arg if a.name == "shape"][0])
    filled = set(name for op in init.op for name in op.output)
    missing = sorted(set(expected) - filled)
    if missing:
        raise ValueError("%s fills no blob named %s (and %d more): not this network's weights"
                         % (path, missing[0], len(missing) - 1))
    workspace.RunNetOnce(init)
    wrong = [name for name, shape in sorted(expected.items())
             if tuple(workspace.FetchBlob(name).shape) != shape]
    if wrong:
        raise ValueError("%s: %d blobs have another shape than the network's: %s"
                         % (path, len(wrong), ", ".join(wrong[:5])))


def predict(model, x):
    workspace.FeedBlob("data", x, device_option=fw.DEVICE["opts"])  # host-to-device copy
    workspace.RunNet(model.net)
    features = workspace.FetchBlob(model.features)  # back on the host, as in 2017
    return features.reshape(features.shape[0], -1)  # (N, 2048, 1, 1) -> (N, 2048)


def sync(model):
    # FetchBlob in predict already waited for the device
    pass


# Model equivalence (dlbench check-models): the weights in the canonical form, family
# resnet50-torchvision (the structure is torchvision's; the module docstring): blob
# <conv>_w is "<name>.weight" (OIHW), a SpatialBN's _s, _b, _rm, _riv are ".weight", ".bias",
# ".running_mean", ".running_var" (in test mode SpatialBN takes the running variance itself in
# _riv, despite its name), with torchvision's names for Caffe2's: conv1 / conv1_bn,
# layer<S-1>.<U>.conv1/2/3 = res<S>_<U>_branch2a/b/c, downsample.0 / .1 = res<S>_<U>_branch1 /
# its _bn.

def _blobs():
    """(canonical name, blob name) for every weight of the network."""
    def conv_bn(canonical_conv, canonical_bn, blob):
        return [(canonical_conv + ".weight", blob + "_w")] + [
            (canonical_bn + "." + c, blob + "_bn" + s)
            for c, s in (("weight", "_s"), ("bias", "_b"), ("running_mean", "_rm"),
                         ("running_var", "_riv"))]
    pairs = conv_bn("conv1", "bn1", "conv1")
    for stage, blocks in enumerate((3, 4, 6, 3)):
        for i in range(blocks):
            pre, blob = "layer%d.%d." % (stage + 1, i), "res%d_%d_" % (stage + 2, i)
            for k, branch in ((1, "branch2a"), (2, "branch2b"), (3, "branch2c")):
                pairs += conv_bn(pre + "conv%d" % k, pre + "bn%d" % k, blob + branch)
            if i == 0:
                pairs += conv_bn(pre + "downsample.0", pre + "downsample.1", blob + "branch1")
    return pairs


def export_params(model):
    return dict((c, np.array(workspace.FetchBlob(b))) for c, b in _blobs())


def import_params(model, params):
    canonical.check_keys(params, [c for c, _ in _blobs()])
    for c, b in _blobs():
        value = np.ascontiguousarray(params[c], dtype=np.float32)
        have = tuple(workspace.FetchBlob(b).shape)
        if value.shape != have:
            raise ValueError("%s: shape %s, blob %s is %s" % (c, value.shape, b, have))
        workspace.FeedBlob(b, value, device_option=fw.DEVICE["opts"])


def outputs(model, x):
    """The (N, 2048) pooled features of a batch, as numpy (is_test: running statistics)."""
    return predict(model, x)
