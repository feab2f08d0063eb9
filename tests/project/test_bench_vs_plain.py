"""bench/vs_plain.py, the part the adapter-vs-plain scripts share (their loop, rounds, ratio),
and the Python those scripts may use: they run inside every framework image, the 2017 ones
included (Python 3.5). The scripts themselves need their frameworks: `make adapters-vs-plain`
runs them in the images; the PyTorch pair (bench/runner_vs_plain.py, bench/plain_pytorch_cnn.py)
runs here when torch is installed."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from helpers import HANG_S, ROOT

BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)
import vs_plain  # noqa: E402

SCRIPTS = ["vs_plain.py", "framework_vs_plain.py", "mxnet_vs_plain.py", "chainer_vs_plain.py",
           "theano_vs_plain.py", "runner_vs_plain.py", "plain_pytorch_cnn.py",
           "rkeras_vs_plain.py", "cntk_vs_plain.py"]
# cntk-2.7 runs CNTK and Keras on CNTK on Python 2.7: its comparisons and the shared module
PYTHON27 = ["vs_plain.py", "theano_vs_plain.py", "cntk_vs_plain.py"]


def test_the_scripts_keep_to_python_3_5():
    vermin = shutil.which("vermin") or pytest.fail("vermin missing: pip install -e .[test]")
    paths = [os.path.join(BENCH, name) for name in SCRIPTS]
    res = subprocess.run([vermin, "-t=3.5-", "--no-tips", "--violations",
                          "--no-parse-comments"] + paths,
                         capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_keras2_comparison_keeps_to_python_2_7():
    vermin = shutil.which("vermin") or pytest.fail("vermin missing: pip install -e .[test]")
    res = subprocess.run([vermin, "-t=2.7-", "--no-tips", "--violations"]
                         + [os.path.join(BENCH, name) for name in PYTHON27],
                         capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode == 0, res.stdout + res.stderr


def test_median_is_statistics_median():
    import statistics
    for values in ([3.0], [2.0, 1.0], [5.0, 1.0, 3.0], [4.0, 1.0, 3.0, 2.0]):
        assert vs_plain.median(values) == statistics.median(values)


def test_every_sibling_uses_the_shared_module():
    for name in SCRIPTS[1:]:
        with open(os.path.join(BENCH, name)) as f:
            text = f.read()
        assert "from vs_plain import" in text, name
        for own in ("def _cpu(", "def ratios(", "open(os.devnull", "% 2 == 0"):
            assert own not in text, (name, own)


def test_run_loop_warms_up_then_trains_every_complete_minibatch_each_epoch():
    seen, waits = [], []
    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)
    loop = vs_plain.run_loop(lambda xb, yb: seen.append(list(yb)) or len(seen), x, y, 2, 4, 0,
                             done=lambda: waits.append(len(seen)))
    assert seen[0] == [0, 1, 2, 3]  # the warm-up step: the first minibatch, outside the clock
    assert waits == [1, 5]  # after the warm-up, and after the 2 epochs x 2 steps
    timed = seen[1:]
    assert [len(b) for b in timed] == [4] * 4  # complete minibatches only (10 // 4 = 2)
    for epoch in (timed[:2], timed[2:]):
        assert len(set(sum(epoch, []))) == 8  # no example twice within an epoch
    assert timed[:2] != timed[2:]  # a fresh permutation each epoch
    assert loop.images == 16 and loop.seconds > 0 and loop.cpu_seconds >= 0 and loop.last == 5
    again = []
    vs_plain.run_loop(lambda xb, yb: again.append(list(yb)), x, y, 2, 4, 0)
    assert again == seen  # the seed fixes the order: both sides of a round see the same batches


def test_forward_rate_times_the_complete_batches_after_its_warm_up():
    calls = []
    x = np.zeros((100, 2))
    assert vs_plain.forward_rate(lambda b: calls.append(len(b)), x, 32) > 0
    assert calls == [32] * 4  # one warm-up batch, then the 3 complete batches
    del calls[:]
    vs_plain.forward_rate(lambda b: calls.append(len(b)), x, 32, warm_all=True)
    assert calls == [32] * 6  # an untimed pass over all, then the timed one


def test_rounds_alternate_and_print_one_line_each(capsys):
    order = []
    a, p = vs_plain.alternate(
        3, lambda: order.append("a") or 2.0 * len(order), lambda: order.append("p") or 1.0,
        lambda i, x, y: "round %d: adapter %.1f, plain %.1f" % (i, x, y))
    assert order == ["a", "p", "p", "a", "a", "p"]
    assert a == [2.0, 8.0, 10.0] and p == [1.0, 1.0, 1.0]
    assert capsys.readouterr().out.splitlines() == [
        "round 1: adapter 2.0, plain 1.0", "round 2: adapter 8.0, plain 1.0",
        "round 3: adapter 10.0, plain 1.0"]


def test_ratio_text_is_the_per_round_ratios_and_their_median():
    assert vs_plain.ratio_text([1.0, 3.0, 2.0], [1.0, 2.0, 2.0]) == \
        "adapter/plain per round 1.000, 1.500, 1.000, median 1.000 (goal >= 0.95)"
    assert vs_plain.ratio_text([1.0, 2.0], [2.0, 2.0], "runner/plain") == \
        "runner/plain per round 0.500, 1.000, median 0.750 (goal >= 0.95)"


def test_quiet_silences_and_restores_stdout(capsys):
    with vs_plain.quiet():
        print("progress event")
    print("figure")
    assert capsys.readouterr().out == "figure\n"


@pytest.mark.slow
def test_the_pytorch_pair_runs_on_this_host():
    """bench/runner_vs_plain.py on tiny sizes: two rounds of tasks/run.py against
    bench/plain_pytorch_cnn.py, in fresh processes, its lines as before."""
    pytest.importorskip("torch")
    plain = subprocess.run([sys.executable, os.path.join(BENCH, "plain_pytorch_cnn.py"),
                            "--examples", "128"], capture_output=True, text=True,
                           timeout=HANG_S)
    assert plain.returncode == 0, plain.stderr
    got = json.loads(plain.stdout.strip().splitlines()[-1])
    assert got["images_per_second"] > 0 and np.isfinite(got["loss"])
    res = subprocess.run([sys.executable, os.path.join(BENCH, "runner_vs_plain.py"), "--limit",
                          "128", "--pairs", "2", "--skip-rnn", "--skip-inference"],
                         capture_output=True, text=True, timeout=HANG_S)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("# dlbench task-runtime benchmark")
    assert [l.split(":")[0] for l in lines[1:3]] == ["cnn round 1", "cnn round 2"]
    assert lines[3].startswith("CNN  (reference, 128 examples x 1 epochs, synthetic): runner ")
    assert "runner/plain per round " in lines[3] and "(goal >= 0.95); per-epoch " in lines[3]


def test_gpu_only_variants_are_skipped_in_one_line():
    """make adapters-vs-plain hands every variant of `dlbench list --runs` over, TF32 and mixed
    precision included: those are skipped, not a traceback that stops the loop."""
    assert vs_plain.cpu_only_skip("flax", "tf32") == \
        "# flax/tf32 runs on gpu only: skipped (these scripts time the CPU)"
    assert vs_plain.cpu_only_skip("keras3", "jax-mixed-bf16").startswith("# keras3/jax-mixed")
    for adapter, variant in (("flax", "reference"), ("mxnet", "gluon-tuned"),
                             ("keras3", "torch"), ("no-such-adapter", "x")):
        assert vs_plain.cpu_only_skip(adapter, variant) is None
    res = subprocess.run([sys.executable, os.path.join(BENCH, "framework_vs_plain.py"),
                          "pytorch", "--variant", "amp-bf16"], capture_output=True, text=True,
                         timeout=HANG_S)
    assert res.returncode == 0 and res.stdout.startswith("# pytorch/amp-bf16 runs on gpu only")


def test_fit_run_is_2017s_keras_cell():
    """The plain side for the Keras rows (issue 29): an untimed fit on the first minibatch, then
    one model.fit over every complete batch for all epochs, Keras shuffling."""
    calls = []

    class Model(object):
        def fit(self, x, y, batch_size, epochs, verbose, shuffle=None):
            calls.append((len(x), batch_size, epochs, shuffle, verbose))

    x, y = np.zeros((10, 3), np.float32), np.zeros(10, np.int32)
    run = vs_plain.fit_run(Model(), x, y, 3, 4)
    assert calls == [(4, 4, 1, None, 0), (8, 4, 3, True, 0)]
    assert run.images == 24 and run.seconds > 0 and run.last is None


def test_built_once_builds_on_the_first_call_only():
    built = []
    get = vs_plain.built_once(lambda: built.append(len(built)) or ["model %d" % len(built)])
    first = get()
    assert get() is first and get() is first
    assert built == [0]


def test_the_overhead_script_times_the_readmes_quick_start():
    """bench/harness_overhead.py reads the quick start it times from README.md: the README's
    `dlbench bench` line (a synthetic run of the three tasks on one image)."""
    import harness_overhead
    image, options = harness_overhead.quick_start()
    with open(os.path.join(ROOT, "README.md")) as f:
        line = [x for x in f if x.startswith("dlbench bench ")][0].split()
    assert [image] + options == line[2:]
    assert image == "pytorch-2.13" and "--synthetic" in options and "--task" not in options
