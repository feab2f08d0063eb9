"""The tensorflow1 adapter's GRU (tasks/rnn/tensorflow1.py) in the tensorflow-2.21 image: the
checks tests/tasks/test_tensorflow1.py runs on a host with TensorFlow."""
import pytest

from helpers.tensorflow_gru import TENSORFLOW1_CHECK, check_tensorflow1, run_in_image


@pytest.mark.engine
@pytest.mark.slow
def test_graph_gru_in_the_image(engine):
    check_tensorflow1(run_in_image(engine, TENSORFLOW1_CHECK))
