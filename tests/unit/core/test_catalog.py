"""Catalog discovery from Dockerfile LABELs (no engine needed)."""
import os
import textwrap

import pytest

from harness.core import catalog, paths
from harness.core.errors import HarnessError

DOCKERFILE = textwrap.dedent('''
    # a comment with LABEL org.dlbench.adapter="nope"
    ARG BASE=debian:bookworm-slim
    ARG CUDA=none
    FROM ${BASE} AS runtime
    ARG CUDA
    LABEL org.dlbench.adapter="mxnet" \\
          org.dlbench.tasks="cnn, rnn" \\
          org.dlbench.devices=cpu,gpu
    # comment between instructions
    label org.dlbench.cuda="${CUDA}" org.dlbench.description="MXNet \\"1.2\\" build"
    LABEL org.dlbench.max-compute-capability='7.0'
''')


def write_image(root, name, text=DOCKERFILE):
    folder = os.path.join(root, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "Dockerfile"), "w") as f:
        f.write(text)
    return folder


def test_parse_labels_quotes_continuations_and_arg_defaults():
    labels, args = catalog.parse_dockerfile(DOCKERFILE)
    assert args == {"BASE": "debian:bookworm-slim", "CUDA": "none"}
    assert labels["org.dlbench.adapter"] == "mxnet"
    assert labels["org.dlbench.tasks"] == "cnn, rnn"
    assert labels["org.dlbench.devices"] == "cpu,gpu"
    assert labels["org.dlbench.cuda"] == "none"
    assert labels["org.dlbench.description"] == 'MXNet "1.2" build'
    assert labels["org.dlbench.max-compute-capability"] == "7.0"


def test_image_properties(tmp_path):
    img = catalog.load_image(write_image(str(tmp_path), "mxnet-1.2"))
    assert img.name == "mxnet-1.2"
    assert img.adapter == "mxnet"
    assert img.tasks == ("cnn", "rnn")
    assert img.devices == ("cpu", "gpu")
    assert img.variants == ("reference",)
    assert img.cuda is None
    assert img.max_compute_capability == "7.0"
    assert img.base == "debian:bookworm-slim"
    assert img.tag == "dlbench/mxnet-1.2:latest"


def test_discover_skips_base_recipes_and_folders_without_dockerfile(tmp_path):
    root = str(tmp_path)
    write_image(root, "b-image")
    write_image(root, "a-image")
    write_image(os.path.join(root, "_base"), "debian-bookworm")
    os.makedirs(os.path.join(root, "notes"))
    assert [i.name for i in catalog.discover(root)] == ["a-image", "b-image"]


def test_problems_name_missing_labels_and_adapter_files(tmp_path):
    img = catalog.load_image(write_image(str(tmp_path), "bare", "FROM scratch\n"))
    problems = img.problems()
    assert any("org.dlbench.adapter" in p for p in problems)
    assert any("org.dlbench.tasks" in p for p in problems)
    # an adapter with no files (mxnet has its own since issue 13)
    img = catalog.load_image(write_image(str(tmp_path), "mx", DOCKERFILE.replace(
        'adapter="mxnet"', 'adapter="nosuchfw"')))
    problems = img.problems(paths.tasks_dir())
    assert problems[:2] == ["no tasks/cnn/nosuchfw.py", "no tasks/rnn/nosuchfw.py"]
    assert "no framework module tasks/frameworks/nosuchfw.py" in problems[2]


def test_lookup_unknown_name_lists_known(tmp_path):
    root = str(tmp_path)
    write_image(root, "one")
    write_image(root, "two")
    with pytest.raises(HarnessError) as e:
        catalog.lookup(["three"], root)
    assert "'three'" in e.value.message and "one, two" in e.value.message
    assert [i.name for i in catalog.lookup(["two", "one"], root)] == ["two", "one"]


def test_real_catalog_has_pytorch_2_13_without_problems():
    by_name = dict((i.name, i) for i in catalog.discover())
    img = by_name["pytorch-2.13"]
    assert img.adapter == "pytorch"
    assert set(img.tasks) == {"cnn", "rnn", "inference", "densenet"}
    assert img.problems(paths.tasks_dir()) == []
    assert not any(n.startswith("_") for n in by_name)


def test_every_image_declares_the_required_labels():
    for img in catalog.discover():
        assert [p for p in img.problems() if "LABEL" in p] == [], img.name


def write_recipe(root, folder, name, text):
    path = os.path.join(root, "_base", folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_base_recipes_one_reading_of_provides_lines(tmp_path):
    root = str(tmp_path)
    script = write_recipe(root, "a-debian", "make-base.sh",
                          "#!/bin/sh\n# provides: debian:bookworm-slim debian:bookworm\nset -eu\n")
    a_docker = write_recipe(root, "a-debian", "Dockerfile",
                            "#provides:   dlbench/a:1\n# provides: debian:bookworm-slim\n")
    b_docker = write_recipe(root, "b-cuda", "Dockerfile",
                            "# CUDA base\n#\n# provides: dlbench/cuda:8.0 \nFROM ubuntu:16.04\n"
                            "#   docker build -t dlbench/cuda:8.0 .\n")
    write_recipe(root, "b-cuda", "helper.sh", "# provides: dlbench/helper:1\n")  # not a recipe
    write_recipe(root, "b-cuda", "README.md", "# provides: dlbench/readme:1\n")
    write_recipe(root, ".hidden", "Dockerfile", "# provides: dlbench/hidden:1\n")
    write_recipe(root, "c-empty", "Dockerfile", "# provides:\nFROM scratch\n"
                 "#\nprovides: dlbench/next-line:1\n")
    found = catalog.base_recipes(root)
    assert found == {"debian:bookworm-slim": script, "debian:bookworm": script,
                     "dlbench/a:1": a_docker, "dlbench/cuda:8.0": b_docker}
    assert catalog.base_recipes(str(tmp_path / "nowhere")) == {}


def test_the_real_base_recipes():
    found = catalog.base_recipes()
    rel = dict((ref, os.path.relpath(path, paths.images_dir())) for ref, path in found.items())
    assert rel == {
        "dlbench/cuda:8.0-cudnn6-runtime-ubuntu16.04": os.path.join("_base", "cuda-8.0-cudnn6",
                                                                    "Dockerfile"),
        "dlbench/cuda:9.0-cudnn7-runtime-ubuntu16.04": os.path.join("_base", "cuda-9.0-cudnn7",
                                                                    "Dockerfile"),
        "dlbench/cuda:8.0-cudnn6-devel-ubuntu16.04": os.path.join(
            "_base", "cuda-8.0-cudnn6-devel", "Dockerfile"),
        "debian:bookworm-slim": os.path.join("_base", "debian-bookworm", "make-base.sh"),
        "debian:bullseye-slim": os.path.join("_base", "debian-bullseye", "make-base.sh")}


def test_dockerfile_instructions_and_arg_substitution():
    text = "# c\nARG A=1\nRUN echo ${A} \\\n  # inside\n  && echo $B ${C:-dflt}\nrun x\n"
    assert catalog.dockerfile_instructions(text) == [
        ("ARG", "A=1"), ("RUN", "echo ${A}  && echo $B ${C:-dflt}"), ("RUN", "x")]
    assert catalog.substitute_args("${A}/$B/${C:-dflt}/${A:-no}", {"A": "1", "B": "2"}) == \
        "1/2/dflt/1"
