"""Inference (ResNet-50 feature extraction) as a TensorFlow 1 program: a placeholder, a Session.

The network is TF-slim's resnet_v1_50, as 2017 used it: ilkarman/DeepLearningFrameworks,
notebooks/Tensorflow_Inference.ipynb (TensorFlow 1.4) fed a placeholder input_image
(None, 224, 224, 3) to `resnet_v1.resnet_v1_50(input_tensor, is_training=False)` from
tensorflow.contrib.slim.nets under `resnet_arg_scope()` (num_classes None: the features after
global average pooling, 2048), restored a checkpoint into a tf.Session and ran
sess.run(logits, feed_dict) batch by batch (32). TF-slim is tf.contrib, which TensorFlow 2 does
not have: its structure is written out with tf.get_variable and tf.nn ops, exactly as
tasks/inference/tensorflow.py does for TensorFlow 2 (see there for the slim sources):

* root: conv2d_same 7x7/2 (explicit 3+3 zero padding, then VALID), max-pool 3x3/2 'SAME';
* blocks of 3, 4, 6, 3 bottleneck units (widths 64..512, output 4x); a block's stride sits in its
  LAST unit (blocks 1-3: 2, block 4: 1), on the 3x3 convolution (conv2d_same);
* the shortcut is a 1x1 projection where the depth changes (each block's first unit, stride 1)
  and otherwise the input, subsampled by a 1x1 max-pool where the unit strides;
* every convolution is slim.conv2d with normalizer_fn=batch_norm: no bias; batch-norm with
  scale and centre, epsilon 1e-5, on its moving statistics (is_training=False);
* weights: slim's variance_scaling_initializer() (factor 2, fan-in, truncated normal, stddev
  sqrt(1.3 * 2 / fan_in)).

Random weights, as every adapter here (a benchmark never downloads); `--weights FILE` loads a
local file. Only the TensorFlow 1.4 API, reached as fw.tf (frameworks/tensorflow1.py). NHWC.
"""
import numpy as np

from common import canonical
from frameworks import tensorflow1 as fw

tf = fw.tf  # TensorFlow 1's API: tensorflow 1.x itself, or tensorflow.compat.v1 on 2.x

EQUIVALENCE = {"family": "resnet50-tfslim"}  # common/canonical.py FAMILIES
SETTINGS = {"layout": "NHWC",
            "network": "TF-slim resnet_v1_50 (num_classes=None), TensorFlow 1 graph"}

# Every weight the network holds, batch-norm moving statistics included: 53 bias-free
# convolutions (23,454,912) and 53 batch-norms of 4 x 26,560 (106,240); tasks/inference/
# tensorflow.py's count (slim's resnet_v1_50 without logits has these variables).
PARAMETERS = 23561152


def _conv_bn(x, name, cout, k, stride=1):
    """slim.conv2d under resnet_arg_scope: a bias-free convolution, then batch-norm. k > 1 pads
    as resnet_utils.conv2d_same: k - 1 zeros, (k - 1) // 2 before, then a VALID convolution."""
    cin = int(x.shape[-1])
    with tf.variable_scope(name):
        std = np.sqrt(1.3 * 2.0 / (k * k * cin))
        kernel = tf.get_variable("weights", [k, k, cin, cout],
                                 initializer=tf.truncated_normal_initializer(stddev=std))
        beta = tf.get_variable("beta", [cout], initializer=tf.zeros_initializer())
        gamma = tf.get_variable("gamma", [cout], initializer=tf.ones_initializer())
        mean = tf.get_variable("moving_mean", [cout], initializer=tf.zeros_initializer(),
                               trainable=False)
        var = tf.get_variable("moving_variance", [cout], initializer=tf.ones_initializer(),
                              trainable=False)
    if k > 1:
        before = (k - 1) // 2
        pad = [before, k - 1 - before]
        x = tf.pad(x, [[0, 0], pad, pad, [0, 0]])
    x = tf.nn.conv2d(x, kernel, [1, stride, stride, 1], "VALID")
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-5)


def _bottleneck(x, name, depth_bottleneck, stride):
    """resnet_v1.bottleneck: 1x1, 3x3 (the unit's stride), 1x1 (4x wider), add, relu."""
    depth = depth_bottleneck * 4
    with tf.variable_scope(name):
        if depth != int(x.shape[-1]):
            shortcut = _conv_bn(x, "shortcut", depth, 1, stride)
        elif stride > 1:  # resnet_utils.subsample: a 1x1 max-pool with the stride
            shortcut = tf.nn.max_pool(x, [1, 1, 1, 1], [1, stride, stride, 1], "SAME")
        else:
            shortcut = x
        out = tf.nn.relu(_conv_bn(x, "conv1", depth_bottleneck, 1))
        out = tf.nn.relu(_conv_bn(out, "conv2", depth_bottleneck, 3, stride))
        out = _conv_bn(out, "conv3", depth, 1)
    return tf.nn.relu(out + shortcut)


def build_model(p):
    with tf.device(fw.device()):
        x = tf.placeholder(tf.float32, [None, p["height"], p["width"], p["channels"]],
                           name="input_image")
        with tf.variable_scope("resnet_v1_50"):
            h = tf.nn.relu(_conv_bn(x, "conv1", 64, 7, 2))
            h = tf.nn.max_pool(h, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")  # pool1: 112 -> 56
            # resnet_v1_50: (base depth, units, stride of the block's last unit)
            for b, (base, units, stride) in enumerate(((64, 3, 2), (128, 4, 2), (256, 6, 2),
                                                       (512, 3, 1))):
                for i in range(units):
                    h = _bottleneck(h, "block%d_unit_%d" % (b + 1, i + 1), base,
                                    stride if i == units - 1 else 1)
            features = tf.reduce_mean(h, [1, 2])  # pool5, global average pooling: 2048
    # inference: batch-norm on its moving statistics; the variables initialised at random
    sess = fw.session()
    sess.run(tf.global_variables_initializer())
    return {"x": x, "features": features, "session": sess,
            "weights": tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, "resnet_v1_50")}


def count_parameters(model):
    # trainable weights and moving statistics
    return sum(int(np.prod(w.get_shape().as_list())) for w in model["weights"])


def load_weights(model, path):
    # np.savez(path, *values), in the order the graph created the variables
    with np.load(path) as f:
        for i, w in enumerate(model["weights"]):
            model["session"].run(w.assign(f["arr_%d" % i]))


def predict(model, x):
    # features back on the host, as in 2017
    return model["session"].run(model["features"], feed_dict={model["x"]: x})


def sync(model):
    pass  # sess.run returns when the batch's work is done, on the GPU too


# model equivalence (`dlbench check-models`, common/canonical.py): torchvision-style names for
# slim's scopes (block{b}_unit_{u} -> layer{b}.{u-1}; shortcut -> downsample.0 / .1), kernels
# HWIO here, OIHW there

_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
       ("running_var", "moving_variance"))


def _scopes(model):
    """(canonical conv name, canonical batch-norm name, slim scope) for every layer."""
    names = set(w.op.name for w in model["weights"])
    found = [("conv1", "bn1", "resnet_v1_50/conv1")]
    for name in canonical.resnet_unit_names():
        b, u = name[len("layer"):].split(".")
        scope = "resnet_v1_50/block%s_unit_%d" % (b, int(u) + 1)
        for k in (1, 2, 3):
            found.append(("%s.conv%d" % (name, k), "%s.bn%d" % (name, k),
                          "%s/conv%d" % (scope, k)))
        if scope + "/shortcut/weights" in names:
            found.append((name + ".downsample.0", name + ".downsample.1", scope + "/shortcut"))
    return found


def export_params(model):
    by_name = dict((w.op.name, w) for w in model["weights"])
    sess, out = model["session"], {}
    for conv, bn, scope in _scopes(model):
        out[conv + ".weight"] = canonical.hwio_to_oihw(sess.run(by_name[scope + "/weights"]))
        for key, var in _BN:
            out["%s.%s" % (bn, key)] = sess.run(by_name["%s/%s" % (scope, var)])
    return out


def import_params(model, params):
    by_name = dict((w.op.name, w) for w in model["weights"])
    sess, expected = model["session"], []
    for conv, bn, scope in _scopes(model):
        expected += [conv + ".weight"] + ["%s.%s" % (bn, key) for key, _ in _BN]
    canonical.check_keys(params, expected)
    for conv, bn, scope in _scopes(model):
        by_name[scope + "/weights"].load(canonical.oihw_to_hwio(params[conv + ".weight"]), sess)
        for key, var in _BN:
            by_name["%s/%s" % (scope, var)].load(params["%s.%s" % (bn, key)], sess)


def outputs(model, x):
    """The eval-mode pooled features (N, 2048) as float32 numpy."""
    return predict(model, x)
