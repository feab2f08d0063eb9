"""Build context assembly from the host's pip settings, and its hash (no engine needed)."""
import io
import os
import tarfile

from harness.core import catalog
from harness.core import pipconf
from harness.images import buildcontext


def make_image(tmp_path, requirements="torch==2.13.0+cpu\nnumpy==2.4.6  # pinned\n"):
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "Dockerfile").write_text('FROM scratch\nLABEL org.dlbench.adapter="x"\n')
    (folder / "requirements-cpu.txt").write_text(requirements)
    return catalog.load_image(str(folder))


def pip_env(tmp_path, **conf):
    """An environment whose only pip config file is ours."""
    path = tmp_path / "pip.conf"
    path.write_text("[global]\n" + "".join("%s = %s\n" % kv for kv in conf.items()))
    return {"PIP_CONFIG_FILE": str(path), "XDG_CONFIG_DIRS": str(tmp_path / "none"),
            "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "none")}


def test_pip_settings_files_then_environment(tmp_path):
    env = pip_env(tmp_path, **{"index-url": "https://idx/simple", "cert": "/x.crt",
                               "extra-index-url": "file:///opt/pypi/simple https://b/simple"})
    env["PIP_CERT"] = "/y.crt"
    s = pipconf.read(env)
    assert s.index_url == "https://idx/simple"
    assert s.cert == "/y.crt"  # the environment wins over files, as in pip
    assert s.extra_index_urls == ["file:///opt/pypi/simple", "https://b/simple"]


def test_context_carries_ca_bundle_constraints_and_only_named_wheels(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
                 "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl",
                 "tensorflow-2.20.0-cp311-cp311-manylinux_2_28_x86_64.whl"):
        (wheels / name).write_bytes(b"wheel")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "c.txt").write_text("torch<=2.14.1")
    env = pip_env(tmp_path, **{"find-links": str(wheels), "cert": str(tmp_path / "ca.crt"),
                               "constraint": str(tmp_path / "c.txt"),
                               "extra-index-url": "file:///nowhere/simple"})
    ctx = buildcontext.Context(make_image(tmp_path), pipconf.read(env))
    assert sorted(os.path.basename(a) for a in ctx.wheels) == [
        "numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl",
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"]
    conf = ctx.generated["_dlbench/pip.conf"].decode()
    assert "find-links = /opt/dlbench-build/wheels" in conf
    assert "cert = /opt/dlbench-build/ca.crt" in conf
    assert "constraint = /opt/dlbench-build/constraints.txt" in conf
    assert "file://" not in conf and any("file:///nowhere" in n for n in ctx.notes)
    with ctx.tarfile() as f:
        names = tarfile.open(fileobj=io.BytesIO(f.read())).getnames()
    assert {"Dockerfile", "requirements-cpu.txt", "_dlbench/pip.conf", "_dlbench/ca.crt",
            "_dlbench/constraints.txt", "_dlbench/wheels"} <= set(names)
    assert "_dlbench/wheels/tensorflow-2.20.0-cp311-cp311-manylinux_2_28_x86_64.whl" not in names


def test_offline_build_uses_no_index(tmp_path):
    ctx = buildcontext.Context(make_image(tmp_path), pipconf.read(pip_env(tmp_path)), offline=True)
    assert "no-index = true" in ctx.generated["_dlbench/pip.conf"].decode()


def test_hash_changes_with_inputs_and_only_with_them(tmp_path):
    image = make_image(tmp_path)
    settings = pipconf.read(pip_env(tmp_path))
    h = buildcontext.Context(image, settings).digest({}, "sha256:base")
    assert buildcontext.Context(image, settings).digest({}, "sha256:base") == h
    assert buildcontext.Context(image, settings).digest({"CUDA": "12.8"}, "sha256:base") != h
    assert buildcontext.Context(image, settings).digest({}, "sha256:other") != h
    with open(image.dockerfile, "a") as f:
        f.write("RUN true\n")
    assert buildcontext.Context(image, settings).digest({}, "sha256:base") != h


def test_requirement_names_and_dist_projects(tmp_path):
    image = make_image(tmp_path, "Typing_Extensions==4.15.0\n-r other.txt\n# torch\n")
    assert buildcontext.requirement_names(image.folder) == {"typing-extensions"}
    assert buildcontext.dist_project("typing_extensions-4.15.0-py3-none-any.whl") == \
        "typing-extensions"
    assert buildcontext.dist_project("PyYAML-3.12.tar.gz") == "pyyaml"
