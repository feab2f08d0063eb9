"""Vendor archives and their manifests are checked before anything is written or built: not an
archive, a bad manifest, image names checked like command-line names, member paths inside the
archive, LABELs, sizes from the tar headers; `dlbench vendor` saves every base the Dockerfile
starts from and takes the base build argument."""
import io
import json
import os
import types

import pytest

from harness.core import catalog
from harness.containers import engine
from helpers import one_line_error, run_cli


def _archive(path, members, manifest=None):
    """A tar at path with members {name: bytes} and, unless None, manifest.json from the dict
    (sha256 of every member added when it has no "members")."""
    import hashlib
    import tarfile
    with tarfile.open(str(path), "w") as tar:
        files = dict(members)
        if manifest is not None:
            if "members" not in manifest:
                manifest = dict(manifest, members={
                    n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                    for n, b in members.items()})
            files["manifest.json"] = json.dumps(manifest).encode()
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return str(path)


DOCKERFILE = (b'FROM debian:bookworm-slim\nLABEL org.dlbench.adapter="pytorch" '
              b'org.dlbench.tasks="cnn" org.dlbench.devices="cpu"\n')


@pytest.fixture
def no_engine(monkeypatch):
    """vendor-build must refuse these archives before it asks the engine anything."""
    asked = []

    def client():
        asked.append("client")
        raise AssertionError("the engine was asked")
    monkeypatch.setattr(engine, "client", client)
    return asked


def _vendor_build(archive):
    return run_cli("vendor-build", archive)


def test_vendor_build_of_a_file_that_is_no_archive(tmp_path, no_engine):
    path = tmp_path / "notes.txt"
    path.write_text("not a tar archive at all\n" * 100)
    res = _vendor_build(str(path))
    line = one_line_error(res)
    assert line == "Error: %s is not a dlbench vendor archive (not a tar archive)" % path
    assert res.output.strip() == line
    assert no_engine == []


@pytest.mark.parametrize("manifest, said", [
    ("{not json", "manifest.json is not JSON"),
    ("[1, 2]", "manifest.json is not a JSON object"),
    ('{"format": 1, "image": "tiny"}', "has no members table"),
    ('{"format": 99, "image": "tiny", "members": {}}', "has format 99; this dlbench reads"),
    ('{"format": 2, "image": "tiny", "members": {"image/tiny/Dockerfile": "x"}}',
     "gives member image/tiny/Dockerfile no sha256"),
    ('{"format": 2, "image": "tiny", "members": {}}', "lists no image/tiny/Dockerfile"),
    ('{"format": 2, "image": 7, "members": {}}', "manifest.json image: 7 is not an image name"),
])
def test_vendor_build_of_a_bad_manifest_is_one_line(tmp_path, no_engine, manifest, said):
    import tarfile
    path = tmp_path / "bad.tar"
    with tarfile.open(str(path), "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest.encode())
        tar.addfile(info, io.BytesIO(manifest.encode()))
    line = one_line_error(_vendor_build(str(path)))
    assert said in line, line
    assert no_engine == []


@pytest.mark.parametrize("name", ["../../../etc", "..", "Tiny", "a/b", "-x", ""])
def test_a_manifest_image_name_is_checked_like_a_command_line_name(tmp_path, monkeypatch,
                                                                   no_engine, name):
    read = []
    monkeypatch.setattr(catalog, "load_image", lambda folder: read.append(folder) or 1 / 0)
    archive = _archive(tmp_path / "evil.tar", {"image/tiny/Dockerfile": DOCKERFILE},
                       {"format": 2, "image": name, "bases": []})
    line = one_line_error(_vendor_build(archive))
    assert "is not an image name" in line, line
    assert read == [] and no_engine == []
    # the same words as for the name on the command line
    cli_line = one_line_error(run_cli("vendor", "--", name)) if name else None
    if cli_line:
        assert "%r is not an image name" % name in cli_line


def test_manifest_paths_stay_inside_the_archive(tmp_path, no_engine):
    archive = _archive(tmp_path / "evil.tar", {"image/tiny/Dockerfile": DOCKERFILE},
                       {"format": 2, "image": "tiny", "members": {
                           "image/tiny/Dockerfile": {"sha256": "0" * 64},
                           "../../etc/passwd": {"sha256": "0" * 64}}})
    line = one_line_error(_vendor_build(archive))
    assert "a path outside the archive" in line
    archive = _archive(tmp_path / "evil2.tar", {"image/tiny/Dockerfile": DOCKERFILE},
                       {"format": 2, "image": "tiny",
                        "bases": [{"ref": "x:1", "id": "sha256:1", "file": "/etc/passwd"}]})
    line = one_line_error(_vendor_build(archive))
    assert "names /etc/passwd, which is not among its members" in line
    assert no_engine == []


def test_vendor_build_refuses_an_archive_image_without_labels(tmp_path, no_engine):
    archive = _archive(tmp_path / "nolabels.tar",
                       {"image/tiny/Dockerfile": b"FROM debian:bookworm-slim\n"},
                       {"format": 2, "image": "tiny", "bases": []})
    line = one_line_error(_vendor_build(archive))
    assert "missing LABEL org.dlbench.adapter" in line
    assert no_engine == []


class _SavedImage(object):
    def __init__(self, ref):
        self.ref, self.id = ref, "sha256:" + ("%064x" % abs(hash(ref)))[:64]

    def save(self, named=None):
        assert named == self.ref
        yield ("docker save of %s" % named).encode()


@pytest.mark.parametrize("dockerfile, bases", [
    ("FROM debian:bookworm-slim\n", ["debian:bookworm-slim"]),
    ("ARG BASE=debian:bookworm-slim\nFROM ${BASE}\n", ["debian:bookworm-slim"]),
    ("FROM python:3.11-slim AS build\nRUN true\nFROM debian:bookworm-slim\n"
     "COPY --from=build /x /x\n", ["python:3.11-slim", "debian:bookworm-slim"]),
    ("FROM scratch\n", []),
], ids=["literal", "arg", "two-stages", "scratch"])
def test_vendor_saves_every_image_the_dockerfile_starts_from(tmp_path, monkeypatch, dockerfile,
                                                             bases):
    import tarfile
    from harness.images import buildneeds, vendor
    folder = tmp_path / "images" / "tiny"
    folder.mkdir(parents=True)
    (tmp_path / "tasks").mkdir()
    (folder / "Dockerfile").write_text(dockerfile + DOCKERFILE.decode().split("\n", 1)[1])
    monkeypatch.setenv("DLBENCH_ROOT", str(tmp_path))
    saved = []

    def get(ref):
        saved.append(ref)
        return _SavedImage(ref)
    monkeypatch.setattr(engine, "client", lambda: types.SimpleNamespace(
        images=types.SimpleNamespace(get=get)))
    out = vendor.vendor("tiny", str(tmp_path / "tiny.tar"), with_data=False, with_cache=False,
                        echo=lambda *a, **k: None)
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    assert [b["ref"] for b in manifest["bases"]] == bases == saved
    assert set(b["file"] for b in manifest["bases"]) <= names
    # doctor checks the base images of the same reading (doctor.diagnose: needs.bases)
    needs = buildneeds.image_needs(str(folder))
    assert needs.bases == bases
    assert needs.base_refs({"UNUSED": "x"}) == bases


def test_vendor_takes_the_base_build_argument(tmp_path, monkeypatch):
    from harness.images import buildneeds
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "Dockerfile").write_text("ARG BASE=debian:bookworm-slim\nFROM ${BASE}\n")
    needs = buildneeds.image_needs(str(folder), images_root=str(tmp_path))
    assert needs.base_refs() == ["debian:bookworm-slim"]
    assert needs.base_refs({"BASE": "debian:trixie-slim"}) == ["debian:trixie-slim"]
def test_vendor_build_checks_sizes_before_it_writes_anything(tmp_path, no_engine):
    """A small compressed archive whose member is far larger than its manifest says (a 9 MB
    archive once wrote 1.87 GB to /tmp before any check) is refused from the tar's headers:
    nothing is extracted."""
    import hashlib
    import tarfile
    big = 64 << 20
    manifest = {"format": 2, "image": "tiny", "bases": [], "members": {
        "image/tiny/Dockerfile": {"sha256": hashlib.sha256(DOCKERFILE).hexdigest(),
                                  "size": len(DOCKERFILE)},
        "wheels/zeros.whl": {"sha256": "0" * 64, "size": 10}}}
    path = str(tmp_path / "bomb.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name, body in (("manifest.json", json.dumps(manifest).encode()),
                           ("image/tiny/Dockerfile", DOCKERFILE)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        info = tarfile.TarInfo("wheels/zeros.whl")
        info.size = big
        tar.addfile(info, io.BytesIO(b"\0" * big))
    assert os.path.getsize(path) < (1 << 20)
    line = one_line_error(_vendor_build(path))
    assert "member wheels/zeros.whl holds %d bytes, the manifest says 10" % big in line
    assert no_engine == []
