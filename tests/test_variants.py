"""--variant all expands per image and per task from the framework modules' variants."""
import os

from harness import catalog, frameworks, paths
from harness.runner import variants_to_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def image(name):
    return catalog.lookup([name], os.path.join(ROOT, "images"))[0]


def test_variants_per_task_from_the_framework_module():
    fw = frameworks.load("pytorch", paths.tasks_dir(ROOT))
    assert fw.variant_names("cnn", "cpu") == ["reference", "tuned"]
    assert fw.variant_names("rnn", "cpu") == ["reference"]
    # TF32 and mixed precision: GPU math modes, offered on the GPU only
    assert fw.variant_names("cnn", "gpu") == ["reference", "tuned", "tf32", "amp-bf16"]
    assert fw.variant_names("rnn", "gpu") == ["reference", "tf32"]
    assert frameworks.find("nosuch", paths.tasks_dir(ROOT)) is None


def test_all_variants_per_task(monkeypatch):
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)
    torch_image = image("pytorch-2.13")
    assert variants_to_run(torch_image, ("all",), "cnn", "cpu") == ["reference", "tuned"]
    assert variants_to_run(torch_image, ("all",), "rnn", "cpu") == ["reference"]
    assert variants_to_run(torch_image, ("all",), "cnn", "gpu") == ["reference", "tuned", "tf32",
                                                                    "amp-bf16"]
    assert variants_to_run(torch_image, (), "cnn") == ["reference"]
    assert variants_to_run(torch_image, ("tuned",), "cnn") == ["tuned"]
    keras = image("keras-3.15")
    assert variants_to_run(keras, ("all",), "rnn", "cpu") == ["tensorflow", "tensorflow-tuned",
                                                              "jax", "torch"]
    old_torch = image("pytorch")  # the 2017 image's label narrows it: torch 0.3.1 has no
    assert variants_to_run(old_torch, ("all",), "cnn") == ["reference"]  # channels-last


def test_an_image_without_a_variants_label_has_the_modules_variants(tmp_path):
    folder = tmp_path / "images" / "x-1.0"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(
        'FROM scratch\nLABEL org.dlbench.adapter="pytorch" org.dlbench.tasks="cnn" '
        'org.dlbench.devices="cpu"\n')
    os.symlink(os.path.join(ROOT, "tasks"), str(tmp_path / "tasks"))
    img = catalog.load_image(str(folder))
    assert img.variants == ("reference", "tuned", "tf32", "amp-bf16")
    assert img.problems(str(tmp_path / "tasks")) == []


def test_a_label_variant_the_module_lacks_is_a_problem():
    img = image("pytorch-2.13")
    img.labels["org.dlbench.variants"] = "reference,turbo"
    problems = img.problems(paths.tasks_dir(ROOT))
    assert any("turbo" in p and "tasks/frameworks/pytorch.py" in p for p in problems), problems


def test_a_gpu_only_variant_asked_on_the_cpu_is_one_clear_error(monkeypatch):
    import pytest
    from harness.errors import HarnessError
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)
    with pytest.raises(HarnessError) as e:
        variants_to_run(image("pytorch-2.13"), ("tf32",), "cnn", "cpu")
    assert "runs on gpu only" in str(e.value) and "--device gpu" in str(e.value)
    assert variants_to_run(image("pytorch-2.13"), ("tf32",), "cnn", "gpu") == ["tf32"]
