"""Numpy reference forwards of the benchmark's networks, on canonical parameters
(common/canonical.py): the framework-neutral side of `dlbench check-models`.

Float64 throughout (the adapters' fp32 outputs are compared against these), eval mode (dropout
off, batch-norm on its running statistics). Convolution is im2col + one matrix product: meant
for tiny batches. Python 3.5, numpy only.
"""
from __future__ import absolute_import, division, print_function
import numpy as np

from common import canonical


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _pad(x, pad, value=0.0):
    """x (N, C, H, W) padded by pad = (before, after) on both spatial axes."""
    before, after = pad
    if before == 0 and after == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)), mode="constant",
                  constant_values=value)


def _windows(x, k, stride):
    """(N, C, Ho, Wo, k, k) view of the k x k windows of x at the stride."""
    n, c, h, w = x.shape
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, shape=(n, c, ho, wo, k, k),
        strides=(s[0], s[1], s[2] * stride, s[3] * stride, s[2], s[3]), writeable=False)


def conv2d(x, w, b=None, stride=1, pad=(0, 0)):
    """Cross-correlation, x (N, C, H, W), w OIHW, zero padding (before, after)."""
    w = _f64(w)
    k = w.shape[2]
    x = np.ascontiguousarray(_pad(x, pad))
    if k == 1:
        cols = x[:, :, ::stride, ::stride]                       # (N, C, Ho, Wo)
        out = np.tensordot(cols, w[:, :, 0, 0], axes=([1], [1]))  # (N, Ho, Wo, O)
    else:
        cols = _windows(x, k, stride)                              # (N, C, Ho, Wo, k, k)
        out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))   # (N, Ho, Wo, O)
    out = out.transpose(0, 3, 1, 2)
    if b is not None:
        out = out + _f64(b)[None, :, None, None]
    return np.ascontiguousarray(out)


def max_pool(x, k, stride, pad=(0, 0)):
    return _windows(np.ascontiguousarray(_pad(x, pad, -np.inf)), k, stride).max(axis=(4, 5))


def relu(x):
    return np.maximum(x, 0.0)


def batch_norm(x, params, name, eps, eps_outside_root=False):
    """Inference batch norm; eps_outside_root: divided by sqrt(var) + eps (Keras 2.1's CNTK
    backend), else sqrt(var + eps)."""
    g, b = _f64(params[name + ".weight"]), _f64(params[name + ".bias"])
    m, v = _f64(params[name + ".running_mean"]), _f64(params[name + ".running_var"])
    scale = g / (np.sqrt(v) + eps if eps_outside_root else np.sqrt(v + eps))
    return x * scale[None, :, None, None] + (b - m * scale)[None, :, None, None]


def dense(x, params, name):
    return x.dot(_f64(params[name + ".weight"]).T) + _f64(params[name + ".bias"])


# ---------------------------------------------------------------- CNN


def cnn(params, x, p):
    """VGG-style CNN logits (N, n_classes); x NCHW."""
    pad = (p["kernel"] // 2, p["kernel"] // 2)

    def conv(h, name):
        return conv2d(h, params[name + ".weight"], params[name + ".bias"], 1, pad)

    h = relu(conv(_f64(x), "conv1"))
    h = relu(max_pool(conv(h, "conv2"), p["pool"], p["pool"]))
    h = relu(conv(h, "conv3"))
    h = relu(max_pool(conv(h, "conv4"), p["pool"], p["pool"]))
    h = h.reshape(h.shape[0], -1)  # NCHW flatten order (C, H, W)
    h = relu(dense(h, params, "fc1"))
    return dense(h, params, "fc2")


# ---------------------------------------------------------------- GRU


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _hard_sigmoid(a):
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)  # Keras 2's hard_sigmoid


def gru(params, x, p, spec):
    """GRU classifier logits (N, n_classes) from word indices x (N, T): embedding, one GRU
    layer over every step (padding included, as every adapter runs it), the last output, dense.
    spec: a GRU family of canonical.FAMILIES (form, biases, initial state, gate function)."""
    emb = _f64(params["embedding.weight"])[np.asarray(x)]          # (N, T, E)
    w_ih, w_hh = _f64(params["gru.weight_ih"]), _f64(params["gru.weight_hh"])
    hidden = w_hh.shape[1]
    gate = _hard_sigmoid if spec["gate"] == "hard_sigmoid" else _sigmoid
    n = emb.shape[0]
    if spec["h0"]:
        h = _f64(params["gru.h0"])
        if h.shape[0] != n:
            raise ValueError("gru.h0 has %d rows: batches of %d only, not %d"
                             % (h.shape[0], h.shape[0], n))
    else:
        h = np.zeros((n, hidden))
    if spec["form"] == "reset_before":
        b_i, b_h = _f64(params["gru.bias"]), np.zeros(3 * hidden)
    else:
        b_i = _f64(params["gru.bias_ih"])
        b_h = _f64(params["gru.bias_hh"]) if spec["bias_hh"] else np.zeros(3 * hidden)
    gx = emb.dot(w_ih.T) + b_i                                        # (N, T, 3H)
    w_hr, w_hz, w_hn = np.split(w_hh, 3, axis=0)
    b_hr, b_hz, b_hn = np.split(b_h, 3)
    for t in range(emb.shape[1]):
        xr, xz, xn = np.split(gx[:, t, :], 3, axis=1)
        r = gate(xr + h.dot(w_hr.T) + b_hr)
        z = gate(xz + h.dot(w_hz.T) + b_hz)
        if spec["form"] == "reset_before":
            cand = np.tanh(xn + (r * h).dot(w_hn.T))
        else:
            cand = np.tanh(xn + r * (h.dot(w_hn.T) + b_hn))
        h = (1.0 - z) * cand + z * h
    return dense(h, params, "fc")


# ---------------------------------------------------------------- ResNet-50


def resnet50(params, x, p, spec):
    """ResNet-50 pooled features (N, 2048); x NCHW. spec: a ResNet family of
    canonical.FAMILIES (stride placement, biases by presence, pre-activation, BN eps, max-pool
    padding, what batch norm divides by)."""
    eps = spec["bn_eps"]

    def conv(h, name, stride=1, pad=(0, 0)):
        return conv2d(h, params[name + ".weight"], params.get(name + ".bias"), stride, pad)

    def bn(h, name):
        return batch_norm(h, params, name, eps, spec["bn_divisor"] == "sqrt(var) + eps")

    h = _f64(x)
    if spec["preact"]:
        # fixed gamma: MXNet's bn_data ignores its gamma (the canonical set holds ones)
        h = bn(h, "bn_data")
    h = relu(bn(conv(h, "conv1", 2, (3, 3)), "bn1"))
    h = max_pool(h, 3, 2, spec["maxpool_pad"])
    for name, _inplanes, _planes, stride, projection in canonical.resnet_units(spec):
        s1, s3 = (stride, 1) if spec["stride_conv"] == "1x1" else (1, stride)
        if spec["preact"]:
            act = relu(bn(h, name + ".bn1"))
            out = conv(act, name + ".conv1", s1)
            out = conv(relu(bn(out, name + ".bn2")), name + ".conv2", s3, (1, 1))
            out = conv(relu(bn(out, name + ".bn3")), name + ".conv3")
            shortcut = conv(act, name + ".downsample.0", stride) if projection else h
        else:
            out = relu(bn(conv(h, name + ".conv1", s1), name + ".bn1"))
            out = relu(bn(conv(out, name + ".conv2", s3, (1, 1)), name + ".bn2"))
            out = bn(conv(out, name + ".conv3"), name + ".bn3")
            if projection:
                shortcut = bn(conv(h, name + ".downsample.0", stride), name + ".downsample.1")
            else:
                shortcut = h[:, :, ::stride, ::stride]  # TF-slim's 1x1 max-pool subsampling
        h = out + shortcut
        if not spec["preact"]:
            h = relu(h)
    if spec["preact"]:
        h = relu(bn(h, "bn_final"))
    return h.mean(axis=(2, 3))


# ---------------------------------------------------------------- DenseNet-121


def avg_pool(x, k):
    """k x k average pooling, stride k, no padding (odd edges dropped, as every adapter's
    'valid' pooling)."""
    n, c, h, w = x.shape
    h, w = h // k * k, w // k * k
    return x[:, :, :h, :w].reshape(n, c, h // k, k, w // k, k).mean(axis=(3, 5))


def densenet121(params, x, p, spec):
    """DenseNet-121 logits (N, n_classes); x NCHW. spec: a DenseNet family of
    canonical.FAMILIES (BN eps). Each dense layer's output is written into one preallocated
    block-wide array (the concatenation without copying the block again per layer)."""
    eps = spec["bn_eps"]

    def bn_relu(h, name):
        return relu(batch_norm(h, params, name, eps))

    def conv(h, name, stride=1, pad=(0, 0)):
        return conv2d(h, params[name + ".weight"], None, stride, pad)

    h = bn_relu(conv(_f64(x), "features.conv0", 2, (3, 3)), "features.norm0")
    h = max_pool(h, 3, 2, (1, 1))
    units = canonical.densenet_units(p)
    i = 0
    while i < len(units):
        name, kind, cin, cout = units[i]
        if kind == "transition":
            h = avg_pool(conv(bn_relu(h, name + ".norm"), name + ".conv"), 2)
            i += 1
            continue
        block = [u for u in units[i:] if u[0].rsplit(".", 1)[0] == name.rsplit(".", 1)[0]]
        n, _c, hh, ww = h.shape
        full = np.empty((n, block[-1][3], hh, ww))
        full[:, :cin] = h
        for name, _kind, cin, cout in block:
            out = conv(bn_relu(full[:, :cin], name + ".norm1"), name + ".conv1")
            full[:, cin:cout] = conv(bn_relu(out, name + ".norm2"), name + ".conv2", 1, (1, 1))
        h = full
        i += len(block)
    h = bn_relu(h, "features.norm5").mean(axis=(2, 3))
    return dense(h, params, "classifier")


def forward(family, params, x, p):
    """The family's reference output for the canonical parameters and the NCHW / index batch."""
    spec = canonical.FAMILIES[family]
    if spec["task"] == "cnn":
        return cnn(params, x, p)
    if spec["task"] == "rnn":
        return gru(params, x, p, spec)
    if spec["task"] == "densenet":
        return densenet121(params, x, p, spec)
    return resnet50(params, x, p, spec)
