"""tasks/common/flops.py: the FLOP counts against a hand count and against PyTorch's own counter
(torch.utils.flop_counter.FlopCounterMode) on the PyTorch adapters' real models."""
import importlib
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(ROOT, "tasks")
if TASKS not in sys.path:
    sys.path.insert(0, TASKS)

from common import flops, params  # noqa: E402


def test_cnn_hand_count():
    # CIFAR-10 32x32x3; every convolution 3x3 'same'; MACs = H_out * W_out * C_out * C_in * 9
    conv1 = 32 * 32 * 50 * 3 * 9        # 1,382,400
    conv2 = 32 * 32 * 50 * 50 * 9       # 23,040,000
    # max-pool 2: 16x16
    conv3 = 16 * 16 * 100 * 50 * 9      # 11,520,000
    conv4 = 16 * 16 * 100 * 100 * 9     # 23,040,000
    # max-pool 2: 8x8x100 = 6400 features
    dense1 = 6400 * 512                 # 3,276,800
    dense2 = 512 * 10                   # 5,120
    macs = conv1 + conv2 + conv3 + conv4 + dense1 + dense2
    assert macs == 62264320
    forward = 2 * macs                  # 124,528,640 FLOPs: the "about 125 MFLOP"
    assert flops.forward_flops("cnn", params.CNN) == forward == 124528640
    # training: forward + weight gradients (= forward) + input gradients (= forward less conv1,
    # whose input is the data): 370,821,120, the 374 being 3 x forward
    train = forward + forward + (forward - 2 * conv1)
    assert flops.train_flops("cnn", params.CNN) == train == 370821120


def test_rnn_hand_count():
    # per step: W (300 x 125) x_t and U (300 x 100) h: 37,500 + 30,000 MACs; 150 steps;
    # dense 100 -> 2: 200 MACs. Embedding lookup: free.
    forward = 2 * (150 * (3 * 100 * 125 + 3 * 100 * 100) + 100 * 2)
    assert flops.forward_flops("rnn", params.RNN) == forward == 20250400
    # backward: weights + inputs, less step 1's recurrent input gradient (zero initial state)
    assert flops.train_flops("rnn", params.RNN) == 3 * forward - 2 * 30000


def test_resnet50_structures():
    p = params.INFERENCE
    tv = flops.forward_flops("inference", p, "torchvision")
    # torchvision's resnet50 is documented as 4.09 GFLOPS (multiply-adds) with its fc
    # (2048 x 1000 = 2.048 M MACs); without it 4.087 GMAC
    assert tv == 8174272512
    assert abs(tv / 2 + 2048 * 1000 - 4.089e9) < 0.001e9
    # the stride on the first 1x1 makes the 3x3 run at the lower resolution: fewer FLOPs
    assert flops.forward_flops("inference", p, "stride-on-1x1") == 7711850496
    assert flops.forward_flops("inference", p, "slim") == 6960414720
    assert flops.forward_flops("inference", p) == tv  # undeclared: torchvision
    assert flops.train_flops("inference", p) is None
    with pytest.raises(ValueError):
        flops.forward_flops("inference", p, "resnet-51")
    c = flops.count("cnn", params.CNN)
    assert c["structure"] is None and "2 FLOPs" in c["convention"]


# --- cross-check against torch.utils.flop_counter ------------------------------------------

torch = pytest.importorskip("torch")
flop_counter = pytest.importorskip("torch.utils.flop_counter")


def _adapter(task):
    return importlib.import_module("%s.pytorch" % task)


def _counted(fn):
    mode = flop_counter.FlopCounterMode(display=False)
    with mode:
        fn()
    return mode.get_total_flops()


def test_cnn_matches_flop_counter():
    torch.manual_seed(0)
    m = _adapter("cnn").build_model(params.CNN)
    x = torch.randn(2, 3, 32, 32)
    assert _counted(lambda: m(x)) == 2 * flops.forward_flops("cnn", params.CNN)
    m.train()
    assert _counted(lambda: m(x).sum().backward()) == 2 * flops.train_flops("cnn", params.CNN)


def test_rnn_matches_flop_counter():
    torch.manual_seed(0)
    m = _adapter("rnn").build_model(params.RNN)
    x = torch.randint(0, 100, (2, params.RNN["maxlen"]))
    assert _counted(lambda: m(x)) == 2 * flops.forward_flops("rnn", params.RNN)
    assert _counted(lambda: m(x).sum().backward()) == 2 * flops.train_flops("rnn", params.RNN)


def test_resnet50_matches_flop_counter():
    adapter = _adapter("inference")
    m = adapter.build_model(params.INFERENCE).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        counted = _counted(lambda: m(x))
    assert counted == flops.forward_flops("inference", params.INFERENCE,
                                          getattr(adapter, "STRUCTURE", None))
