"""An image's Python command comes from its LABEL org.dlbench.python: cntk-2.7 runs Python 2.7
(CNTK's wheels there are cp27mu), every other image python3; the runs and checks call it."""
from harness.core import catalog


def test_each_image_names_its_python():
    images = dict((i.name, i) for i in catalog.discover())
    assert images["cntk-2.7"].python == "python2"
    assert images["pytorch-2.13"].python == "python3"
    assert images["theano-1.0"].python == "python3"
    assert [i.name for i in images.values() if i.python == "python2"] == ["cntk-2.7"]
