"""dlbench doctor against real servers on 127.0.0.1: a PEP 503 index (HTML pages, plus a PEP 691
JSON page), a file server for URL artifacts, a registry v2 endpoint with a token challenge, and a
closed port for `unreachable`. Nothing of the doctor's modules is replaced (harness.images.doctor and the
package-index, registry, HTTP and build-needs modules it runs)."""
import hashlib
import http.server as httpserver
import json
import os
import socket
import textwrap
import threading

import pytest
from click.testing import CliRunner

from helpers import HANG_S, IMAGES
from harness.images import buildneeds, doctor, pkgindex, reachable, registry

ARTIFACT = b"pretend this is torch-0.3.1-cp35-cp35m-linux_x86_64.whl\n" * 100
ARTIFACT_SHA = hashlib.sha256(ARTIFACT).hexdigest()

# project -> [(filename, attributes)]
INDEX = {
    "numpy": [("numpy-1.14.1-cp35-cp35m-manylinux1_x86_64.whl", ""),
              ("numpy-1.14.1-cp36-cp36m-manylinux1_x86_64.whl", ""),
              ("numpy-1.14.1.zip", ""),
              ("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
               ' data-requires-python="&gt;=3.11"')],
    "six": [("six-1.11.0-py2.py3-none-any.whl", "")],
    # only wheels for newer Pythons, no sdist: rotted for 3.5
    "newonly": [("newonly-1.0-cp38-cp38-manylinux2014_x86_64.whl", ""),
                ("newonly-1.0-py3-none-any.whl", ' data-requires-python="&gt;=3.7"')],
    # a wheel whose glibc is newer than Ubuntu 16.04's 2.23
    "glibcnew": [("glibcnew-2.0-cp35-cp35m-manylinux_2_28_x86_64.whl", "")],
    # source only
    "srconly": [("srconly-3.12.tar.gz", "")],
    # the only file is yanked, and it is a macOS wheel: rotted
    "gone": [("gone-1.0-cp35-cp35m-macosx_10_6_x86_64.whl", ' data-yanked=""')],
    # yanked but installable for an exact pin (PEP 592)
    "yankedok": [("yankedok-0.2.0-py2.py3-none-any.whl", ' data-yanked="broken"')],
    # local version on the index
    "torch": [("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "")],
}
JSON_PROJECTS = {"jsonpkg": {"meta": {"api-version": "1.0"}, "name": "jsonpkg", "files": [
    {"filename": "jsonpkg-1.0-cp35-abi3-manylinux2014_x86_64.whl", "url": "x.whl",
     "hashes": {}, "requires-python": ">=3.5"}]}}


class Handler(httpserver.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", ctype="text/html", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["simple"] and len(parts) == 2:
            name = parts[1]
            if name in JSON_PROJECTS and "json" in self.headers.get("Accept", ""):
                body = json.dumps(JSON_PROJECTS[name]).encode()
                return self._send(200, body, "application/vnd.pypi.simple.v1+json")
            if name not in INDEX:
                return self._send(404, b"not found")
            links = "".join('<a href="/files/%s#sha256=00"%s>%s</a>\n' % (f, attrs, f)
                            for f, attrs in INDEX[name])
            return self._send(200, ("<html><body>%s</body></html>" % links).encode())
        if path == "/files/artifact.whl":
            return self._send(200, ARTIFACT, "application/octet-stream")
        if path == "/token":
            return self._send(200, json.dumps({"token": "t0k"}).encode(), "application/json")
        if parts[:1] == ["v2"]:
            if self.headers.get("Authorization") != "Bearer t0k":
                realm = "http://127.0.0.1:%d/token" % self.server.server_port
                return self._send(401, b"", headers=[(
                    "WWW-Authenticate",
                    'Bearer realm="%s",service="test",scope="repository:%s:pull"'
                    % (realm, "/".join(parts[1:-2])))])
            if path == "/v2/library/ubuntu/manifests/16.04":
                return self._send(200, b"{}", "application/vnd.oci.image.index.v1+json")
            return self._send(404, b"")
        if path == "/broken":
            return self._send(503, b"down")
        return self._send(404, b"not found")


@pytest.fixture(scope="module")
def server():
    srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % srv.server_port
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return port


@pytest.fixture
def http():
    return reachable.Http(timeout=HANG_S)


def pin(server, http, project, version, python="3.5", local_dirs=(), glibc=(2, 23)):
    index = pkgindex.Index(server + "/simple", http)
    return pkgindex.check_pin(project, version, python, [index], local_dirs, glibc)


@pytest.mark.parametrize("project,version,python,expected", [
    ("numpy", "1.14.1", "3.5", reachable.OK),
    ("numpy", "1.14.1", "3.11", reachable.OK),       # no cp311 wheel, but the sdist builds
    ("numpy", "1.14.2", "3.5", reachable.ROTTED),    # a version the index never had
    ("numpy", "2.4.6", "3.5", reachable.ROTTED),     # only a cp311 wheel
    ("numpy", "2.4.6", "3.11", reachable.OK),
    ("six", "1.11.0", "3.5", reachable.OK),          # py2.py3-none-any
    ("six", "1.11", "3.5", reachable.OK),            # 1.11 == 1.11.0
    ("newonly", "1.0", "3.5", reachable.ROTTED),     # cp38 wheel; py3 wheel needs >=3.7
    ("newonly", "1.0", "3.7", reachable.OK),
    ("glibcnew", "2.0", "3.5", reachable.ROTTED),    # manylinux_2_28 on a glibc 2.23 base
    ("srconly", "3.12", "3.5", reachable.OK),
    ("gone", "1.0", "3.5", reachable.ROTTED),
    ("yankedok", "0.2.0", "3.5", reachable.OK),
    ("nosuchproject", "1.0", "3.5", reachable.ROTTED),
    ("torch", "2.13.0+cpu", "3.11", reachable.OK),
    ("torch", "2.13.0", "3.11", reachable.ROTTED),   # local version must match
    ("jsonpkg", "1.0", "3.5", reachable.OK),         # PEP 691 JSON page, abi3 wheel
    ("jsonpkg", "1.0", "3.4", reachable.ROTTED),
])
def test_pins_against_a_loopback_index(server, http, project, version, python, expected):
    status, detail = pin(server, http, project, version, python,
                         glibc=(2, 23) if python == "3.5" else (2, 36))
    assert status == expected, detail


def test_rotted_detail_names_what_exists(server, http):
    status, detail = pin(server, http, "numpy", "1.14.2")
    assert status == reachable.ROTTED
    assert "1.14.1" in detail and "pin an obtainable version" in detail
    status, detail = pin(server, http, "glibcnew", "2.0")
    assert "no file for CPython 3.5" in detail


def test_yanked_is_flagged(server, http):
    status, detail = pin(server, http, "yankedok", "0.2.0")
    assert status == reachable.OK and "YANKED" in detail


def test_unreachable_index_is_not_a_pass(closed_port, http):
    index = pkgindex.Index("http://127.0.0.1:%d/simple" % closed_port, http)
    status, detail = pkgindex.check_pin("numpy", "1.14.1", "3.5", [index])
    assert status == reachable.UNREACHABLE
    assert "127.0.0.1:%d" % closed_port in detail


def test_server_error_is_unreachable(server, http):
    index = pkgindex.Index(server + "/broken", http)
    # /broken/numpy/ -> 404 here, so use the 503 page itself through the artifact check
    status, _ = reachable.check_artifact(server + "/broken", "", http)
    assert status == reachable.UNREACHABLE
    assert index.url.endswith("/broken")


def test_unreachable_but_in_the_wheelhouse_is_local_only(closed_port, http, tmp_path):
    (tmp_path / "numpy-1.14.1-cp35-cp35m-manylinux1_x86_64.whl").write_bytes(b"x")
    index = pkgindex.Index("http://127.0.0.1:%d/simple" % closed_port, http)
    status, detail = pkgindex.check_pin("numpy", "1.14.1", "3.5", [index], [str(tmp_path)],
                                        (2, 23))
    assert status == reachable.LOCAL_ONLY
    assert str(tmp_path) in detail and "vendor" in detail
    # a wheel for another Python in the wheelhouse does not count
    status, _ = pkgindex.check_pin("numpy", "1.14.1", "3.6", [index], [str(tmp_path)], (2, 23))
    assert status == reachable.UNREACHABLE


def test_file_index_counts_as_local(tmp_path, http):
    folder = tmp_path / "simple" / "six"
    folder.mkdir(parents=True)
    (folder / "six-1.11.0-py2.py3-none-any.whl").write_bytes(b"x")
    index = pkgindex.Index("file://%s" % (tmp_path / "simple"), http)
    status, _ = pkgindex.check_pin("six", "1.11.0", "3.5", [index])
    assert status == reachable.LOCAL_ONLY


def test_second_index_is_consulted(server, closed_port, http):
    first = pkgindex.Index("http://127.0.0.1:%d/simple" % closed_port, http)
    second = pkgindex.Index(server + "/simple", http)
    status, detail = pkgindex.check_pin("six", "1.11.0", "3.5", [first, second])
    assert status == reachable.OK and "from %s/simple" % server in detail


def test_artifact_sha256(server, closed_port, http):
    url = server + "/files/artifact.whl"
    assert reachable.check_artifact(url, ARTIFACT_SHA, http)[0] == reachable.OK
    status, detail = reachable.check_artifact(url, "0" * 64, http)
    assert status == reachable.ROTTED and ARTIFACT_SHA in detail
    assert reachable.check_artifact(url, "", http)[0] == reachable.UNVERIFIED
    assert reachable.check_artifact(server + "/files/deleted.whl", ARTIFACT_SHA, http)[0] \
        == reachable.ROTTED
    status, _ = reachable.check_artifact("http://127.0.0.1:%d/a.whl" % closed_port,
                                         ARTIFACT_SHA, http)
    assert status == reachable.UNREACHABLE


def test_registry_with_token_challenge(server, closed_port, http):
    host = server[len("http://"):]
    assert registry.check_registry(host + "/library/ubuntu:16.04", http)[0] == reachable.OK
    status, detail = registry.check_registry(host + "/library/ubuntu:8.0-deleted", http)
    assert status == reachable.ROTTED and "no longer serves" in detail
    status, _ = registry.check_registry("127.0.0.1:%d/library/ubuntu:16.04" % closed_port, http)
    assert status == reachable.UNREACHABLE


def test_base_local_only_and_recipe_hint(server, closed_port, http):
    ref = "127.0.0.1:%d/library/debian:bookworm-slim" % closed_port
    status, detail = doctor.check_base(ref, http, {}, local=lambda r: True)
    assert status == reachable.LOCAL_ONLY and "local engine" in detail
    status, _ = doctor.check_base(ref, http, {}, local=lambda r: False)
    assert status == reachable.UNREACHABLE
    recipe = os.path.join(IMAGES, "_base",
                          "cuda-8.0-cudnn6")
    status, detail = doctor.check_base("dlbench/cuda:8.0-cudnn6-runtime-ubuntu16.04", http,
                                       {"dlbench/cuda:8.0-cudnn6-runtime-ubuntu16.04": recipe},
                                       local=lambda r: False)
    assert status == reachable.TO_BUILD and "images/_base/cuda-8.0-cudnn6" in detail


def test_doctor_follows_the_recipes_builds_use():
    from harness.core import catalog
    made_by = doctor.recipes()
    assert made_by == dict((ref, os.path.dirname(path))
                           for ref, path in catalog.base_recipes().items())
    assert os.path.basename(made_by["debian:bookworm-slim"]) == "debian-bookworm"
    assert os.path.basename(made_by["dlbench/cuda:9.0-cudnn7-runtime-ubuntu16.04"]) == \
        "cuda-9.0-cudnn7"


def test_version_and_name_helpers():
    assert pkgindex.version_tuple("1.14.1rc1") == (1, 14, 1)
    assert pkgindex.version_tuple("2.13.0+cpu") == (2, 13, 0)
    assert pkgindex.same_version("1.11", "1.11.0") and not pkgindex.same_version("1.0", "1.0rc1")
    assert pkgindex.normalise("Foo.Bar__baz") == "foo-bar-baz"
    assert pkgindex.dist_version("Foo_Bar-1.0-py3-none-any.whl") == ("foo-bar", "1.0")
    assert pkgindex.python_satisfies("3.5", ">=3.5, !=3.6.*")
    assert not pkgindex.python_satisfies("3.6", ">=3.5, !=3.6.*")


def test_reference_parsing():
    assert registry.split_reference("ubuntu:16.04") == ("docker.io", "library/ubuntu", "16.04")
    assert registry.split_reference("nvidia/cuda:8.0-runtime") == \
        ("docker.io", "nvidia/cuda", "8.0-runtime")
    assert registry.split_reference("nvcr.io/nvidia/cuda:9.0") == ("nvcr.io", "nvidia/cuda", "9.0")
    assert registry.split_reference("localhost:5000/x") == ("localhost:5000", "x", "latest")


def test_dockerfile_needs(tmp_path):
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        ARG BASE=ubuntu:16.04
        FROM ${BASE} AS runtime
        ARG TORCH_URL=http://example.invalid/torch-0.3.1-cp35-cp35m-linux_x86_64.whl
        ARG TORCH_SHA256=abc
        ARG OTHER_URL=http://example.invalid/x
        RUN python3 -m pip install --no-cache-dir "pip==20.3.4" \\
         && pip3 install six==1.11.0 'numpy==1.14.1' other>=1 \\
         && pip install -r requirements.txt
        FROM runtime
        LABEL org.dlbench.python="3.5"
        """))
    (tmp_path / "requirements.txt").write_text("# c\npillow==5.0.0  # x\nloose>=1\n"
                                               "pyyaml==3.12 ; python_version >= '3'\n")
    needs = buildneeds.image_needs(str(tmp_path), images_root=str(tmp_path))
    assert needs.bases == ["ubuntu:16.04"]
    assert needs.python == "3.5"
    assert [(p, v) for p, v, _ in needs.pins] == [
        ("pip", "20.3.4"), ("six", "1.11.0"), ("numpy", "1.14.1"),
        ("pillow", "5.0.0"), ("pyyaml", "3.12")]
    assert ("TORCH", "http://example.invalid/torch-0.3.1-cp35-cp35m-linux_x86_64.whl",
            "abc") in needs.artifacts
    assert ("OTHER", "http://example.invalid/x", "") in needs.artifacts


def test_the_2017_image_declares_its_needs():
    root = IMAGES
    needs = buildneeds.image_needs(os.path.join(root, "pytorch"), images_root=root)
    assert needs.python == "3.5"
    pins = dict((p, v) for p, v, _ in needs.pins)
    assert pins["numpy"] == "1.14.1" and pins["torchvision"] == "0.2.0"
    urls = dict((p, u) for p, u, _ in needs.artifacts)
    assert urls["TORCH_CU80"].endswith("/cu80/torch-0.3.1-cp35-cp35m-linux_x86_64.whl")
    # the base is made by a recipe, whose own needs (ubuntu:16.04, NVIDIA repos) are followed
    assert needs.bases == ["dlbench/cuda:8.0-cudnn6-runtime-ubuntu16.04"]
    assert [r.name for r in needs.recipes] == ["cuda-8.0-cudnn6"]
    assert needs.recipes[0].bases == ["ubuntu:16.04"]
    assert pkgindex.glibc_for(["ubuntu:16.04"]) == (2, 23)


def test_the_2017_tensorflow_image_declares_its_needs():
    """images/tensorflow: TensorFlow 1.4.0 for Python 3.5 (GPU and CPU builds), every dependency
    pinned, on the CUDA 8 / cuDNN 6 base the recipe makes."""
    root = IMAGES
    needs = buildneeds.image_needs(os.path.join(root, "tensorflow"), images_root=root)
    assert needs.python == "3.5"
    pins = set((p, v) for p, v, _ in needs.pins)
    assert {("tensorflow-gpu", "1.4.0"), ("tensorflow", "1.4.0"), ("numpy", "1.14.1"),
            ("pip", "20.3.4"), ("tensorflow-tensorboard", "0.4.0")} <= pins
    assert needs.artifacts == []  # everything from the index
    assert needs.bases == ["dlbench/cuda:8.0-cudnn6-runtime-ubuntu16.04"]
    assert [r.name for r in needs.recipes] == ["cuda-8.0-cudnn6"]


def test_cli_table_and_exit_status(server, tmp_path, monkeypatch):
    images = tmp_path / "images" / "old"
    images.mkdir(parents=True)
    (tmp_path / "tasks").mkdir()
    (images / "Dockerfile").write_text(textwrap.dedent("""\
        ARG BASE=dlbench/none-such:1
        FROM ${BASE}
        ARG THING_URL=%s/files/artifact.whl
        ARG THING_SHA256=%s
        LABEL org.dlbench.adapter="x" org.dlbench.tasks="cnn" org.dlbench.devices="cpu" \\
              org.dlbench.python="3.5"
        """ % (server, ARTIFACT_SHA)))
    (images / "requirements.txt").write_text("numpy==1.14.1\nnumpy-nope==9\n")
    monkeypatch.setenv("DLBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    result = CliRunner().invoke(doctor.doctor_command,
                                ["old", "--index-url", server + "/simple", "--json"])
    findings = json.loads(result.output)
    by_subject = dict((f["subject"].split(" ")[0], f["status"]) for f in findings)
    assert by_subject["numpy==1.14.1"] == "ok"
    assert by_subject["numpy-nope==9"] == "rotted"
    assert by_subject["THING_URL"] == "ok"
    assert by_subject["dlbench/none-such:1"] == "rotted"
    assert result.exit_code == 1
    text = CliRunner().invoke(doctor.doctor_command, ["old", "--index-url", server + "/simple"])
    assert "STATUS" in text.output.splitlines()[0] and "2 ok, 2 rotted" in text.output
