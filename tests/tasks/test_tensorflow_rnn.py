"""The TensorFlow RNN as the 2017 Tensorflow_RNN notebook built it (issue 12, point 2).

2017 (ilkarman/DeepLearningFrameworks at 671e2a0, notebooks/Tensorflow_RNN.ipynb, TensorFlow
1.4): cuDNN's GRU, time-major, weights uniform(-0.1, 0.1), a trainable initial state `input_h`
of shape (1, batch 64, hidden 100). So 3,750,000 + 68,100 + 6,400 + 202 = 3,824,702 parameters.

The GRU math is pinned here against a NumPy GRU in cuDNN's form (gates reset, update, new; the
reset gate after the recurrent matmul; two bias vectors) on a tiny input with the same weights.
That needs TensorFlow: on this host when its Python (or $DLBENCH_FRAMEWORK_PYTHON) has it,
else in the dlbench/tensorflow-2.21 image (engine: tests/engine/test_engine_tensorflow_rnn.py). The cuDNN path cannot run without a GPU; its
weight buffer is checked against cuDNN's layout, and its training step is traced (a graph needs
no kernel) to show the op and its gradient are wired."""
import sys

import pytest

from helpers import TASKS
from helpers.taskfiles import declared
from helpers.tensorflow_gru import TENSORFLOW_CHECK, check_tensorflow, run_on_host

sys.path.insert(0, TASKS)
from common import params  # noqa: E402


def test_declared_parameter_count_is_the_2017_notebooks():
    p = params.RNN
    e, h, n = p["embedding"], p["hidden"], p["batch_size"]
    gru = 3 * (e * h + h * h + 2 * h)  # cuDNN form: two bias vectors
    assert gru == 68100
    assert declared("rnn", "tensorflow", "PARAMETERS") == 3824702 == (
        p["max_features"] * e + gru + n * h + h * p["n_classes"] + p["n_classes"])


@pytest.mark.slow
def test_gru_math_on_this_host():
    check_tensorflow(run_on_host(TENSORFLOW_CHECK))
