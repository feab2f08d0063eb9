"""--variant all expands per image and per task from the adapters' own VARIANTS."""
import os

from harness import catalog, paths
from harness.runner import variants_to_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def image(name):
    return catalog.lookup([name], os.path.join(ROOT, "images"))[0]


def test_adapter_variants_read_without_import():
    tasks = paths.tasks_dir(ROOT)
    assert catalog.adapter_variants(tasks, "cnn", "pytorch") == ("reference", "tuned")
    assert catalog.adapter_variants(tasks, "rnn", "pytorch") == ("reference",)
    assert catalog.adapter_variants(tasks, "cnn", "nosuch") is None


def test_all_variants_per_task(monkeypatch):
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)
    torch_image = image("pytorch-2.13")
    assert variants_to_run(torch_image, ("all",), "cnn") == ["reference", "tuned"]
    assert variants_to_run(torch_image, ("all",), "rnn") == ["reference"]
    assert variants_to_run(torch_image, (), "cnn") == ["reference"]
    assert variants_to_run(torch_image, ("tuned",), "cnn") == ["tuned"]
    keras = image("keras-3.15")
    assert variants_to_run(keras, ("all",), "rnn") == ["tensorflow", "tensorflow-tuned", "jax",
                                                       "torch"]
