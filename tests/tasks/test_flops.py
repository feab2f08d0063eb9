"""tasks/measure/flops.py: the FLOP counts against a hand count and against PyTorch's own counter
(torch.utils.flop_counter.FlopCounterMode) on the PyTorch adapters' real models."""
import importlib
import os
import sys

import pytest

from helpers import ROOT
TASKS = os.path.join(ROOT, "tasks")
if TASKS not in sys.path:
    sys.path.insert(0, TASKS)

from common import params  # noqa: E402
from measure import flops  # noqa: E402


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

@pytest.fixture
def torch():
    """PyTorch on the host (CI installs the CPU wheel); the hand counts above run without it."""
    return pytest.importorskip("torch")


def _adapter(task):
    return importlib.import_module("%s.pytorch" % task)


def _counted(fn):
    from torch.utils import flop_counter
    mode = flop_counter.FlopCounterMode(display=False)
    with mode:
        fn()
    return mode.get_total_flops()


def test_cnn_matches_flop_counter(torch):
    torch.manual_seed(0)
    m = _adapter("cnn").build_model(params.CNN)
    x = torch.randn(2, 3, 32, 32)
    assert _counted(lambda: m(x)) == 2 * flops.forward_flops("cnn", params.CNN)
    m.train()
    assert _counted(lambda: m(x).sum().backward()) == 2 * flops.train_flops("cnn", params.CNN)


def test_rnn_matches_flop_counter(torch):
    torch.manual_seed(0)
    m = _adapter("rnn").build_model(params.RNN)
    x = torch.randint(0, 100, (2, params.RNN["maxlen"]))
    assert _counted(lambda: m(x)) == 2 * flops.forward_flops("rnn", params.RNN)
    assert _counted(lambda: m(x).sum().backward()) == 2 * flops.train_flops("rnn", params.RNN)


def test_resnet50_matches_flop_counter(torch):
    adapter = _adapter("inference")
    m = adapter.build_model(params.INFERENCE).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        counted = _counted(lambda: m(x))
    from common import canonical
    family = canonical.family_for(adapter.EQUIVALENCE, "reference")
    assert counted == flops.forward_flops("inference", params.INFERENCE,
                                          canonical.flops_structure(family))


# --- the peak probe and MFU --------------------------------------------------------------

def test_peak_probe_numpy_fallback_is_labelled():
    import types
    from measure import peak
    rec = peak.measure(types.SimpleNamespace(), "cpu", threads={"x": 1}, n=128, repeats=3)
    assert "fallback" in rec["method"] and rec["matrix"] == [128, 128, 128]
    assert rec["gflops"] > 0 and rec["gflops"] >= rec["median_gflops"]
    assert rec["samples"] == 3 and rec["inner"] == 1 and rec["threads"] == {"x": 1}
    assert rec["gflops"] == pytest.approx(2 * 128 ** 3 / rec["best_seconds"] / 1e9)
    assert rec["seconds"] >= 3 * rec["best_seconds"]


def test_peak_probe_uses_the_framework_gemm_and_halves_n_when_slow():
    import types
    from measure import peak
    sizes = []

    def gemm(n):
        sizes.append(n)

        def matmul():
            if n > 512:
                import time
                time.sleep(peak.SLOW_SECONDS + 0.05)  # a slow device: n is halved
            return n
        return matmul, lambda out: None, "fake gemm"
    rec = peak.measure(types.SimpleNamespace(gemm=gemm), "cpu", n=1024, repeats=2)
    assert sizes == [1024, 512] and rec["method"] == "fake gemm" and rec["matrix"] == [512] * 3


def test_peak_probe_keeps_the_fastest_path_and_records_every_one():
    """A framework whose layers take a faster GEMM path than its matmul (MXNet: dot on an old
    OpenBLAS, FullyConnected on oneDNN) offers both; the peak is the fastest, named in method,
    every path's figure is kept (the first, the plain matmul, is what the probe measured
    before), and a path that fails leaves the others."""
    import time
    import types
    from measure import peak
    numpy_dot = peak.numpy_gemm

    def slow(n):
        matmul, wait, _ = numpy_dot(n)

        def run():
            time.sleep(0.02)  # 2 x 256^3 FLOPs take well under 20 ms on any CPU
            return matmul()
        return run, wait, "slow dot"

    def broken(n):
        def run():
            raise RuntimeError("no such operator in this build")
        return run, lambda out: None, "broken op"

    def gemm(n):
        return [slow(n), broken(n), numpy_dot(n)[:2] + ("fast path",)]
    rec = peak.measure(types.SimpleNamespace(gemm=gemm), "cpu", n=256, repeats=3)
    assert rec["method"] == "fast path"
    slow_rec, broken_rec, fast_rec = rec["candidates"]
    assert slow_rec["method"] == "slow dot" and slow_rec["gflops"] < 2 * 256 ** 3 / 0.02 / 1e9
    assert broken_rec == {"path": 1, "error": "RuntimeError: no such operator in this build"}
    assert rec["gflops"] == fast_rec["gflops"] > slow_rec["gflops"]
    assert fast_rec["matrix"] == rec["matrix"] == [256] * 3 and fast_rec["samples"] == 3


def test_peak_probe_one_failing_path_is_an_error():
    import types
    from measure import peak

    def gemm(n):
        def run():
            raise RuntimeError("broken")
        return run, lambda out: None, "only path"
    with pytest.raises(RuntimeError):
        peak.measure(types.SimpleNamespace(gemm=gemm), "cpu", n=128, repeats=2)


def test_mfu_arithmetic():
    counted = flops.count("cnn", params.CNN)
    timings = {"images_per_second": 300.0}
    m = flops.mfu("cnn", counted, timings, {"gflops": 222.456})
    assert m["achieved_gflops"] == pytest.approx(300.0 * 370821120 / 1e9)  # 111.2 GFLOP/s
    assert m["of_measured_peak"] == pytest.approx(m["achieved_gflops"] / 222.456)
    assert m["of_nominal_peak"] is None  # the host fills it in on a known GPU
    inf = flops.mfu("inference", flops.count("inference", params.INFERENCE, "slim"),
                    {"images_per_second": 10.0}, None)
    assert inf["achieved_gflops"] == pytest.approx(10 * 6960414720 / 1e9)
    assert inf["of_measured_peak"] is None  # no peak measured: no share of it


def test_every_inference_family_has_a_known_structure():
    """The FLOPs structure comes from each inference file's equivalence family (one place for
    which ResNet-50 a file builds): every declared family maps to a structure flops.py counts,
    and the mapping matches where the families put their strides."""
    import ast
    from common import canonical
    for name in sorted(os.listdir(os.path.join(TASKS, "inference"))):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        tree = ast.parse(open(os.path.join(TASKS, "inference", name)).read())
        decl = [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", "") == "EQUIVALENCE"]
        assert len(decl) == 1, name
        families = set([decl[0]["family"]] + list(decl[0].get("variants", {}).values()))
        for family in families:
            assert canonical.flops_structure(family) in flops.RESNET50, (name, family)
    assert canonical.flops_structure("resnet50-tfslim") == "slim"
    assert canonical.flops_structure("resnet50-keras") == "stride-on-1x1"
    assert canonical.flops_structure("resnet50-gluon-v1") == "stride-on-1x1"
    assert canonical.flops_structure("resnet50-torchvision") == "torchvision"
    assert canonical.flops_structure("resnet50-mxnet-preact") == "torchvision"
    assert canonical.flops_structure("cnn-vgg") is None


def test_densenet_matches_flop_counter(torch):
    """DenseNet-121's count (flops.densenet_layers) equals FlopCounterMode's on the PyTorch
    adapter, forward and training, at 224x224 (5.67 GFLOP forward) and at the tests' 32x32."""
    pytest.importorskip("PIL")  # tasks/densenet/pytorch.py decodes PNGs with Pillow
    dn = _adapter("densenet")
    p = params.for_task("densenet")
    assert flops.forward_flops("densenet", p) == 5666304000
    for size in (224, 32):
        q = dict(p, height=size, width=size)
        m = dn.build_model(q, {"device": torch.device("cpu"), "rank": 0, "world": 1,
                               "ddp": False})
        x = torch.randn(2, 3, size, size)  # batch 2: batch-norm in training mode needs two
        m.eval()
        with torch.no_grad():
            assert _counted(lambda: m(x)) == 2 * flops.forward_flops("densenet", q)
        m.train()
        assert _counted(lambda: m(x).sum().backward()) == 2 * flops.train_flops("densenet", q)
