"""`dlbench data fetch chestxray14` against a real HTTP server on 127.0.0.1 (conftest's `server`),
serving small archives in the NIH layout (images/<name>.png in a tar.gz) and a labels file:
each archive checked against its md5 and extracted, the labels file fetched but said to be
unverified, a bad archive refused, an unreachable host one clear line; and where a densenet run
finds the data (`bench --data-dir`)."""
import hashlib
import io
import os
import tarfile

from click.testing import CliRunner

from helpers.datagen import make_chestxray_dir, png_bytes
from harness.images import data
from harness.launch import bench
from harness.cli import main

import numpy as np


def archive(path, names):
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            data = png_bytes(np.full((4, 4), 7, np.uint8))
            info = tarfile.TarInfo("images/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../outside.png")  # never written outside images/
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"bad"))


def served(www):
    archive(str(www / "images_001.tar.gz"), ["00000001_000.png", "00000001_001.png"])
    archive(str(www / "images_002.tar.gz"), ["00000002_000.png"])
    (www / "Data_Entry_2017.csv").write_text("Image Index,Finding Labels,Patient ID\n")
    table = []
    for name in ("images_001.tar.gz", "images_002.tar.gz"):
        md5 = hashlib.md5((www / name).read_bytes()).hexdigest()
        table.append(data.Dataset("chestxray14", name, "http://unused/" + name, "md5", md5,
                                  "test"))
    return table


def test_archives_verified_and_extracted(server, tmp_path):
    url, www, requests = server
    table = served(www)
    said = []
    root = data.fetch_chestxray(str(tmp_path / "cache"), mirror=url, echo=said.append,
                                archives=table)
    assert sorted(os.listdir(os.path.join(root, "images"))) == [
        "00000001_000.png", "00000001_001.png", "00000002_000.png"]
    assert not os.path.exists(str(tmp_path / "cache" / "outside.png"))
    assert any("NOT verified" in s and "Data_Entry_2017.csv" in s for s in said)
    assert any("images_002.tar.gz fetched (md5 ok)" in s for s in said)
    n = len(requests)
    data.fetch_chestxray(str(tmp_path / "cache"), mirror=url, echo=said.append,
                         archives=table)
    assert len(requests) == n  # verified archives are not fetched again


def test_an_archive_failing_its_md5_is_refused(server, tmp_path):
    url, www, _ = server
    table = served(www)
    table[1] = data.Dataset("chestxray14", "images_002.tar.gz", "x", "md5", "0" * 32, "t")
    res_error = None
    try:
        data.fetch_chestxray(str(tmp_path), mirror=url, echo=lambda *a: None, archives=table)
    except Exception as e:  # HarnessError
        res_error = str(e)
    assert res_error and "expected 00000000000000000000000000000000" in res_error
    assert not os.path.exists(str(tmp_path / "chestxray14" / "archives" / "images_002.tar.gz"))


def test_unreachable_host_is_one_clear_line(tmp_path):
    res = CliRunner().invoke(main, ["data", "fetch", "chestxray14", "--dest", str(tmp_path),
                                    "--mirror", "http://127.0.0.1:9"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    errors = [l for l in res.output.splitlines() if l.startswith("Error")]
    assert len(errors) == 1 and "cannot download Data_Entry_2017.csv" in errors[0]


def test_the_nih_checksums_are_the_published_ones():
    a = data.CHESTXRAY_ARCHIVES
    assert len(a) == 12 and [d.filename for d in a][0] == "images_001.tar.gz"
    assert a[0].checksum == "fe8ed0a6961412fddcbb3603c11b3698"
    assert a[11].checksum == "dc9fda1757c2de0032b63347a7d2895c"
    assert all(d.algorithm == "md5" and d.url.startswith("https://nihcc.box.com/") for d in a)
    assert data.CHESTXRAY_LABELS.checksum is None  # none is published: not verified


def test_where_a_densenet_run_finds_its_data(tmp_path):
    cache = tmp_path / "cache"
    make_chestxray_dir(str(cache / "chestxray14"), patients=2, per_patient=1, size=8)
    assert data.chestxray_subfolder(str(cache)) == "chestxray14"
    assert data.missing_for(["densenet"], str(cache)) == []
    local = tmp_path / "local"  # --data-dir a folder holding the files itself
    make_chestxray_dir(str(local), patients=2, per_patient=1, size=8)
    assert data.chestxray_subfolder(str(local)) == ""
    missing = data.missing_for(["densenet"], str(tmp_path / "empty"))
    assert len(missing) == 1 and "dlbench data fetch chestxray14" in missing[0].filename

    class Image(object):
        name = "pytorch-2.13"
        python = "python3"  # catalog.Image.python: the image's interpreter

        def adapter_for(self, variant):
            return "pytorch"

    opts = bench.BenchOptions(tasks=("densenet",), data_dir=str(local), workers=2, image_size=32,
                              batch_size=4, results_root=str(tmp_path / "results"))
    run = bench.Run(Image(), None, "densenet", "reference", 1, "cpu", opts, {})
    cmd = run.command()
    assert cmd[cmd.index("--data") + 1] == "/data"
    for flag, value in (("--workers", "2"), ("--image-size", "32"), ("--batch-size", "4")):
        assert cmd[cmd.index(flag) + 1] == value
    assert "--gpus" not in cmd
    opts.data_dir = str(cache)
    assert run.command()[run.command().index("--data") + 1] == "/data/chestxray14"
