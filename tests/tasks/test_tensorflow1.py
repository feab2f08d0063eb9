"""The tensorflow1 adapter's GRU (TensorFlow 1's program through tf.compat.v1 on TensorFlow 2).

2017's Tensorflow_RNN notebook (TensorFlow 1.4): cuDNN's GRU, time-major, weights uniform(-0.1,
0.1), a trainable initial state `input_h` of shape (1, batch 64, hidden 100): 3,824,702
parameters, tasks/rnn/tensorflow.py's count. Here, in a graph and a Session: the count, the
initialisation, the CPU loop's logits against the NumPy GRU in cuDNN's form that
tests/tasks/test_tensorflow_rnn.py pins the tensorflow adapter with (same weights), a gradient for
every variable (the initial state learns), and the GPU path built (not run: no GPU here) to show
cuDNN's op and its gradient are wired to one 68,100-value buffer. Needs TensorFlow: on this host
when its Python (or $DLBENCH_FRAMEWORK_PYTHON) has it, else in the dlbench/tensorflow-2.21 image
(tests/engine/test_engine_tensorflow1.py)."""
import pytest

from helpers.tensorflow_gru import TENSORFLOW1_CHECK, check_tensorflow1, run_on_host


@pytest.mark.slow
def test_graph_gru_on_this_host():
    check_tensorflow1(run_on_host(TENSORFLOW1_CHECK))
