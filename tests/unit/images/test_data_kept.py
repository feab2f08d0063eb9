"""A user's dataset file is never deleted by `dlbench data fetch`: a file failing its check survives
an offline fetch and a mirror serving another file; a verified download replaces it and keeps it
aside."""
import os

import pytest

from harness.core.errors import HarnessError


@pytest.fixture
def www(tmp_path):
    import functools
    import http.server
    import threading
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1], folder
    httpd.shutdown()
    httpd.server_close()


def _imdb(checksum_of):
    import hashlib
    from harness.images import data
    d = data.DATASETS["imdb"]
    return data.Dataset("imdb", d.filename, d.url, "sha256",
                        hashlib.sha256(checksum_of).hexdigest(), "test")


def _cache_with_own_copy(tmp_path):
    """A dataset cache holding the user's own imdb.npz, which fails the published checksum."""
    dest = tmp_path / "cache"
    dest.mkdir()
    (dest / "imdb.npz").write_bytes(b"my own copy")
    return dest


def test_a_file_failing_its_check_survives_an_offline_fetch(tmp_path):
    from harness.images import data
    dest = _cache_with_own_copy(tmp_path)
    said = []
    with pytest.raises(HarnessError) as e:
        data.fetch_one(_imdb(b"the published file"), str(dest),
                       mirror="http://127.0.0.1:9", echo=said.append)
    assert (dest / "imdb.npz").read_bytes() == b"my own copy"
    assert sorted(os.listdir(str(dest))) == ["imdb.npz"]
    assert "is left as it was" in e.value.message
    assert any("stays until one arrives" in s for s in said)


def test_a_file_failing_its_check_survives_a_mirror_serving_another_file(tmp_path, www):
    from harness.images import data
    url, folder = www
    (folder / "imdb.npz").write_bytes(b"something else")
    dest = _cache_with_own_copy(tmp_path)
    with pytest.raises(HarnessError) as e:
        data.fetch_one(_imdb(b"the published file"), str(dest), mirror=url,
                       echo=lambda *a, **k: None)
    assert (dest / "imdb.npz").read_bytes() == b"my own copy"
    assert sorted(os.listdir(str(dest))) == ["imdb.npz"]
    assert "is left as it was" in e.value.message


def test_a_verified_download_replaces_the_file_and_keeps_it_aside(tmp_path, www):
    from harness.images import data
    url, folder = www
    (folder / "imdb.npz").write_bytes(b"the published file")
    dest = _cache_with_own_copy(tmp_path)
    said = []
    assert data.fetch_one(_imdb(b"the published file"), str(dest), mirror=url,
                          echo=said.append) == "fetched"
    assert (dest / "imdb.npz").read_bytes() == b"the published file"
    [aside] = [n for n in os.listdir(str(dest)) if n != "imdb.npz"]
    assert aside.startswith("imdb.npz.bad-")
    assert (dest / aside).read_bytes() == b"my own copy"
    assert any("kept as %s" % (dest / aside) in s for s in said)
