"""`dlbench data fetch` against a real HTTP server on 127.0.0.1 (started here): checksums,
re-fetch of corrupt or partial files, one clear line when a host cannot be reached."""
import hashlib
import os

import pytest
from click.testing import CliRunner

from helpers.datagen import make_cifar_tarball, make_imdb_npz
from harness.images import data
from harness.cli import main
from harness.core.errors import HarnessError


def datasets_for(www):
    """The real dataset table, with checksums of the small files the server holds."""
    make_cifar_tarball(str(www / "cifar-10-python.tar.gz"), 16)
    make_imdb_npz(str(www / "imdb.npz"), 16)
    table = {}
    for name, d in data.DATASETS.items():
        digest = hashlib.new(d.algorithm, (www / d.filename).read_bytes()).hexdigest()
        table[name] = data.Dataset(name, d.filename, d.url, d.algorithm, digest, "test")
    return table


def test_fetch_verifies_and_reuses(server, tmp_path):
    url, www, requests = server
    table = datasets_for(www)
    dest = str(tmp_path / "cache")
    data.fetch([], dest, mirror=url, echo=lambda *a, **k: None, datasets=table)
    assert sorted(os.listdir(dest)) == ["cifar-10-python.tar.gz", "imdb.npz"]
    assert len(requests) == 2
    data.fetch([], dest, mirror=url, echo=lambda *a, **k: None, datasets=table)
    assert len(requests) == 2  # verified copies are not fetched again


def test_partial_or_corrupt_file_is_fetched_again(server, tmp_path):
    url, www, requests = server
    table = datasets_for(www)
    dest = tmp_path / "cache"
    dest.mkdir()
    whole = (www / "imdb.npz").read_bytes()
    (dest / "imdb.npz").write_bytes(whole[: len(whole) // 2])  # an interrupted download
    said = []
    assert data.fetch_one(table["imdb"], str(dest), mirror=url, echo=said.append) == "fetched"
    assert (dest / "imdb.npz").read_bytes() == whole
    assert any("corrupt or partial" in s for s in said)


def test_mirror_serving_another_file_fails_and_keeps_nothing(server, tmp_path):
    url, www, requests = server
    datasets_for(www)  # files whose checksums are not the published ones
    dest = tmp_path / "cache"
    res = CliRunner().invoke(main, ["data", "fetch", "imdb", "--dest", str(dest),
                                    "--mirror", url])
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert "expected 69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f" in \
        res.output
    assert os.listdir(str(dest)) == []  # neither the file nor a .part


def test_unreachable_host_is_one_clear_line(tmp_path):
    res = CliRunner().invoke(main, ["data", "fetch", "cifar10", "--dest", str(tmp_path),
                                    "--mirror", "http://127.0.0.1:9"])
    assert res.exit_code == 1
    errors = [l for l in res.output.splitlines() if l.startswith("Error")]
    assert len(errors) == 1 and "cannot download cifar-10-python.tar.gz" in errors[0]


def test_unknown_dataset(tmp_path):
    with pytest.raises(HarnessError):
        data.fetch(["mnist"], str(tmp_path))


def test_published_checksums():
    assert data.DATASETS["cifar10"].checksum == "c58f30108f718f92721af3b95e74349a"
    assert data.DATASETS["imdb"].algorithm == "sha256"
