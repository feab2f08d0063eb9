"""--variant all expands per image and per task from the framework modules' variants."""
import os

from harness.core import catalog, paths, taskfiles
from harness.launch.bench import variants_to_run

from helpers import ROOT, image


def test_variants_per_task_from_the_framework_module():
    fw = taskfiles.load("pytorch", paths.tasks_dir(ROOT))
    assert fw.variant_names("cnn", "cpu") == ["reference", "tuned"]
    assert fw.variant_names("rnn", "cpu") == ["reference"]
    # TF32 and mixed precision: GPU math modes, offered on the GPU only
    assert fw.variant_names("cnn", "gpu") == ["reference", "tuned", "tf32", "amp-bf16"]
    assert fw.variant_names("rnn", "gpu") == ["reference", "tf32"]
    assert taskfiles.find("nosuch", paths.tasks_dir(ROOT)) is None


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
                                                              "tensorflow-steps", "jax", "torch"]
    # tensorflow-steps (train_on_batch per minibatch) trains only: no inference variant
    assert "tensorflow-steps" not in variants_to_run(keras, ("all",), "inference", "cpu")
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
    assert img.variants == ("reference", "tuned", "ddp", "tf32", "amp-bf16")
    assert img.problems(str(tmp_path / "tasks")) == []


def test_a_label_variant_the_module_lacks_is_a_problem():
    img = image("pytorch-2.13")
    img.labels["org.dlbench.variants"] = "reference,turbo"
    problems = img.problems(paths.tasks_dir(ROOT))
    assert any("turbo" in p and "tasks/frameworks/pytorch.py" in p for p in problems), problems


def test_a_gpu_only_variant_asked_on_the_cpu_is_one_clear_error(monkeypatch):
    import pytest
    from harness.core.errors import HarnessError
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)
    with pytest.raises(HarnessError) as e:
        variants_to_run(image("pytorch-2.13"), ("tf32",), "cnn", "cpu")
    assert "runs on gpu only" in str(e.value) and "--device gpu" in str(e.value)
    assert variants_to_run(image("pytorch-2.13"), ("tf32",), "cnn", "gpu") == ["tf32"]


# ------------------------------------------------------------- several adapters in one image

def two_adapter_image(tmp_path, adapters, variants=None):
    folder = tmp_path / "images" / "two-1.0"
    folder.mkdir(parents=True)
    label = ' org.dlbench.variants="%s"' % variants if variants else ""
    (folder / "Dockerfile").write_text(
        'FROM scratch\nLABEL org.dlbench.adapter="%s" org.dlbench.tasks="cnn,rnn" '
        'org.dlbench.devices="cpu"%s\n' % (adapters, label))
    if not (tmp_path / "tasks").exists():
        os.symlink(os.path.join(ROOT, "tasks"), str(tmp_path / "tasks"))
    return catalog.load_image(str(folder))


def test_the_adapter_label_may_list_several_adapters(tmp_path):
    """org.dlbench.adapter="a,b": the first is the image's adapter (what one-adapter code
    reads), each variant runs on the adapter whose framework module declares it, and without a
    variants label the image offers every adapter's variants, in label order."""
    img = two_adapter_image(tmp_path, "tensorflow, tensorflow1")
    assert img.adapters == ("tensorflow", "tensorflow1") and img.adapter == "tensorflow"
    assert img.variants == ("reference", "tuned", "tf32", "graph")
    assert [img.adapter_for(v) for v in img.variants] == ["tensorflow", "tensorflow",
                                                          "tensorflow", "tensorflow1"]
    assert img.offered_variants("cnn", "cpu") == ["reference", "tuned", "graph"]
    assert img.problems(str(tmp_path / "tasks")) == []
    single = catalog.load_image(os.path.join(ROOT, "images", "pytorch-2.13"))
    assert single.adapters == ("pytorch",) and single.adapter_for("tuned") == "pytorch"


def test_the_same_variant_name_in_two_adapters_of_an_image_is_a_problem(tmp_path):
    img = two_adapter_image(tmp_path, "pytorch,tensorflow", "reference,tuned")
    problems = img.problems(str(tmp_path / "tasks"))
    assert any("variant reference is declared by pytorch and tensorflow" in p
               for p in problems), problems


def test_a_missing_task_file_of_the_second_adapter_is_a_problem(tmp_path):
    img = two_adapter_image(tmp_path, "tensorflow,nosuch", "reference")
    problems = img.problems(str(tmp_path / "tasks"))
    assert "no tasks/cnn/nosuch.py" in problems and "no tasks/rnn/nosuch.py" in problems
    assert any("tasks/frameworks/nosuch.py" in p for p in problems), problems


def test_all_variants_of_a_two_adapter_image_and_the_command_of_each(monkeypatch):
    import pytest
    from harness.core.errors import HarnessError
    from harness.launch.bench import Run, BenchOptions
    monkeypatch.setenv("DLBENCH_ROOT", ROOT)
    tf_image = image("tensorflow-2.21")
    assert variants_to_run(tf_image, ("all",), "cnn", "cpu") == ["reference", "tuned", "graph"]
    assert variants_to_run(tf_image, ("all",), "cnn", "gpu") == ["reference", "tuned", "tf32",
                                                                 "graph"]
    assert variants_to_run(tf_image, (), "cnn") == ["reference"]
    assert variants_to_run(tf_image, ("graph",), "rnn", "cpu") == ["graph"]
    with pytest.raises(HarnessError) as e:  # the GPU-only variant of the first adapter
        variants_to_run(tf_image, ("graph", "tf32"), "cnn", "cpu")
    assert "variant tf32 of tensorflow-2.21 runs on gpu only" in str(e.value)
    opts = BenchOptions(results_root="/nonexistent", run_id="x", synthetic=True)
    for variant, adapter in (("reference", "tensorflow"), ("graph", "tensorflow1")):
        run = Run(tf_image, None, "cnn", variant, 1, "cpu", opts, {})
        assert run.adapter == adapter
        cmd = run.command()
        assert cmd[cmd.index("--framework") + 1] == adapter
        assert cmd[cmd.index("--variant") + 1] == variant
