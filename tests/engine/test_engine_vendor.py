"""dlbench vendor / vendor-build on a small image: a real archive (docker save of the base, pip
download from the index, a URL artifact from a loopback server with its sha256), verified on
unpack, then built by the engine with network_mode "none"; a wrong sha256 is refused."""
import hashlib
import http.server as httpserver
import tarfile
import textwrap
import threading

import pytest

from helpers import HANG_S
from harness.images import vendor
from harness.core.errors import HarnessError

BLOB = b"a vendored artifact\n" * 50

BASE = "debian:bookworm-slim"


def _engine_has(ref):
    try:
        import docker
        docker.from_env(timeout=HANG_S).images.get(ref)
        return True
    except Exception:
        return False


class Files(httpserver.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/thing.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB)
        else:
            self.send_error(404)


@pytest.fixture
def project(tmp_path, monkeypatch):
    srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    folder = tmp_path / "images" / "tiny"
    folder.mkdir(parents=True)
    (tmp_path / "tasks").mkdir()
    (folder / "Dockerfile").write_text(textwrap.dedent("""\
        ARG BASE=%s
        FROM ${BASE}
        ARG THING_URL=http://127.0.0.1:%d/thing.bin
        ARG THING_SHA256=%s
        COPY requirements.txt /opt/b/
        COPY _dlbench/ /opt/b/
        # the vendored context: pip settings without an index, the wheel, the artifact
        RUN grep -q "no-index = true" /opt/b/pip.conf \\
         && test -f /opt/b/wheels/six-1.11.0-py2.py3-none-any.whl \\
         && echo "$THING_SHA256  /opt/b/artifacts/thing.bin" | sha256sum -c - \\
         && test "$(ls /sys/class/net)" = "lo"
        LABEL org.dlbench.adapter="pytorch" org.dlbench.tasks="cnn" \\
              org.dlbench.devices="cpu" org.dlbench.python="3.11"
        """ % (BASE, srv.server_port, hashlib.sha256(BLOB).hexdigest())))
    (folder / "requirements.txt").write_text("six==1.11.0\n")
    monkeypatch.setenv("DLBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("DLBENCH_DATA", str(tmp_path / "data"))
    yield tmp_path
    srv.shutdown()
    srv.server_close()


@pytest.mark.engine
@pytest.mark.slow
def test_vendor_then_build_with_no_network(project, tmp_path):
    if not _engine_has(BASE):
        pytest.skip("needs a Docker engine with %s" % BASE)
    out = str(tmp_path / "tiny.tar")
    said = []
    vendor.vendor("tiny", out, with_cache=False, echo=said.append)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "base/image.tar", "image/tiny/Dockerfile",
            "wheels/six-1.11.0-py2.py3-none-any.whl", "artifacts/thing.bin"} <= names
    image_id, seconds = vendor.build_from(out, echo=said.append, tag="dlbench-test/tiny:vendored")
    assert image_id.startswith("sha256:")
    import docker
    client = docker.from_env()
    built = client.images.get("dlbench-test/tiny:vendored")
    assert built.labels["org.dlbench.vendor-archive"] == "tiny.tar"
    client.images.remove("dlbench-test/tiny:vendored", force=True)

    # a tampered member is refused before anything is built
    tampered = str(tmp_path / "tampered.tar")
    with tarfile.open(out) as src, tarfile.open(tampered, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m)
            if m.name == "artifacts/thing.bin":
                import io
                body = b"changed" + data.read()[7:]
                m.size = len(body)
                dst.addfile(m, io.BytesIO(body))
            else:
                dst.addfile(m, data)
    with pytest.raises(HarnessError) as e:
        vendor.build_from(tampered, echo=said.append)
    assert "artifacts/thing.bin" in str(e.value)


@pytest.mark.engine
def test_vendor_refuses_a_wrong_sha256(project, tmp_path):
    if not _engine_has(BASE):
        pytest.skip("needs a Docker engine with %s" % BASE)
    dockerfile = project / "images" / "tiny" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(
        hashlib.sha256(BLOB).hexdigest(), "0" * 64))
    with pytest.raises(HarnessError) as e:
        vendor.vendor("tiny", str(tmp_path / "x.tar"), with_cache=False, echo=lambda m: None)
    assert "THING_URL: sha256" in str(e.value)
