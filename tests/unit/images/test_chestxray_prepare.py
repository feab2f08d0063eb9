"""ChestX-ray14's one-off resize to 264x264 RGB (tasks/prepare_chestxray.py, as 2017's
notebooks/common/utils.py resize_im) on a generated folder of real-format PNGs (1024x1024 8-bit
grey like the NIH release, one RGBA), run on the host with the host's Pillow; and which folder
tasks/common/chestxray.py then reads. `dlbench data prepare` in an image:
tests/engine/test_engine_chestxray_prepare.py."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import HANG_S
from helpers.datagen import make_chestxray_dir

Image = pytest.importorskip("PIL.Image")

from helpers import ROOT
SCRIPT = os.path.join(ROOT, "tasks", "prepare_chestxray.py")
sys.path.insert(0, os.path.join(ROOT, "tasks"))

from common import chestxray, params  # noqa: E402


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """3 patients x 2 images, 1024x1024 grey (the fifth RGBA, as a few NIH images are)."""
    folder = tmp_path_factory.mktemp("nih")
    make_chestxray_dir(str(folder), patients=3, per_patient=2, size=1024)
    return str(folder)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def prepare(src, out, *extra):
    return subprocess.run([sys.executable, SCRIPT, "--src", src, "--out", out,
                           "--workers", "2"] + list(extra), capture_output=True, text=True,
                          timeout=HANG_S)


def events(proc):
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.fixture()
def prepared(originals, tmp_path):
    out = str(tmp_path / "images-264")
    before = dict((n, sha(os.path.join(originals, "images", n)))
                  for n in os.listdir(os.path.join(originals, "images")))
    proc = prepare(os.path.join(originals, "images"), out)
    assert proc.returncode == 0, proc.stderr
    return out, before, proc


def test_copies_are_2017s_resize_and_the_originals_untouched(originals, prepared):
    out, before, _ = prepared
    images = os.path.join(originals, "images")
    names = sorted(before)
    assert len(names) == 6
    for name in names:
        copy = Image.open(os.path.join(out, name))
        assert copy.format == "PNG" and copy.mode == "RGB" and copy.size == (264, 264)
        with Image.open(os.path.join(images, name)) as im:
            assert im.size == (1024, 1024) and im.mode in ("L", "RGBA")
            # 2017's resize_im: resize the image as stored (grey), then RGB
            expected = np.asarray(im.resize((264, 264), Image.BILINEAR).convert("RGB"))
        got = np.asarray(copy)
        assert np.array_equal(got, expected), name
        assert np.array_equal(got[..., 0], got[..., 2])  # grey in three equal channels
        assert sha(os.path.join(images, name)) == before[name]  # never overwritten
    assert not [n for n in os.listdir(out) if n.endswith(".part")]


def test_the_manifest_records_size_method_count_and_the_sources_checksums(originals,
                                                                          prepared):
    out, before, proc = prepared
    m = json.load(open(os.path.join(out, chestxray.MANIFEST)))
    assert m["complete"] is True and m["size"] == [264, 264] and m["mode"] == "RGB"
    assert m["format"] == "PNG" and m["count"] == 6
    assert "BILINEAR" in m["method"] and "resize_im" in m["method"]
    assert m["pillow"] == __import__("PIL").__version__
    lines = "".join("%s %s\n" % (n, before[n]) for n in sorted(before))
    assert m["sources_sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    rows = [line.split("\t") for line in open(os.path.join(out, m["files"])).read().splitlines()]
    assert [(r[0], r[1]) for r in rows] == [(n, before[n]) for n in sorted(before)]
    ev = events(proc)
    assert ev[0]["event"] == "start" and ev[0]["todo"] == 6 and ev[0]["workers"] == 2
    assert ev[-1]["event"] == "done" and ev[-1]["made"] == 6
    assert any(e["event"] == "progress" and e["done"] == 6 for e in ev)


def test_a_second_run_does_nothing(originals, prepared):
    out, _, _ = prepared
    stamps = dict((n, os.stat(os.path.join(out, n)).st_mtime_ns) for n in os.listdir(out))
    proc = prepare(os.path.join(originals, "images"), out)
    assert proc.returncode == 0, proc.stderr
    ev = events(proc)
    assert ev[0]["todo"] == 0 and ev[-1]["made"] == 0 and ev[-1]["changed"] is False
    assert dict((n, os.stat(os.path.join(out, n)).st_mtime_ns)
                for n in os.listdir(out)) == stamps  # not one file written, manifest included


def test_an_interrupted_run_leaves_nothing_taken_as_done(originals, prepared):
    """What a killed run leaves: a half-written .part copy, a copy renamed but not yet in the
    journal, a journal line cut short, and a copy whose journal line says another size (a
    file damaged since). Each is made again; nothing else is."""
    out, _, _ = prepared
    names = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    journal = os.path.join(out, ".journal")
    lines = open(journal).read().splitlines(True)
    keep = [line for line in lines if not line.startswith((names[0], names[1]))]
    cut = [line for line in lines if line.startswith(names[1])][0]
    with open(journal, "w") as f:
        f.writelines(keep)
        f.write(cut[:len(cut) // 2])  # the line the dying process was writing
    part = os.path.join(out, names[2] + ".part")
    with open(part, "wb") as f:
        f.write(open(os.path.join(out, names[2]), "rb").read()[:100])
    os.remove(os.path.join(out, names[2]))  # died before the rename
    with open(os.path.join(out, names[3]), "r+b") as f:
        f.truncate(50)  # damaged: its size no longer the journal's
    untouched = os.stat(os.path.join(out, names[4])).st_mtime_ns
    proc = prepare(os.path.join(originals, "images"), out)
    assert proc.returncode == 0, proc.stderr
    ev = events(proc)
    assert ev[0]["todo"] == 4 and ev[-1]["made"] == 4
    assert not os.path.exists(part)
    for name in names[:4]:
        assert Image.open(os.path.join(out, name)).size == (264, 264)
    assert os.stat(os.path.join(out, names[4])).st_mtime_ns == untouched
    assert json.load(open(os.path.join(out, chestxray.MANIFEST)))["count"] == 6


def test_a_corrupt_png_is_one_clear_error_and_no_manifest(originals, tmp_path):
    src = tmp_path / "images"
    src.mkdir()
    for name in sorted(os.listdir(os.path.join(originals, "images")))[:3]:
        (src / name).write_bytes(open(os.path.join(originals, "images", name), "rb").read())
    (src / "00000099_000.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # cut short
    out = str(tmp_path / "images-264")
    proc = prepare(str(src), out)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: 1 of 4 image(s)"), proc.stderr
    assert "00000099_000.png" in errors[0] and "dlbench data fetch chestxray14" in errors[0]
    assert not os.path.exists(os.path.join(out, chestxray.MANIFEST))
    assert len([n for n in os.listdir(out) if n.endswith(".png")]) == 3  # the others are kept
    # the loaders keep reading the originals, and say why
    folder, record = chestxray.input_for(str(tmp_path), dict(params.DENSENET))
    assert record["read"] == "originals" and "dlbench data prepare" in record["why"]


def test_no_image_folder_is_one_clear_error(tmp_path):
    proc = prepare(str(tmp_path / "nope"), str(tmp_path / "out"))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: no image folder %s: run 'dlbench data fetch chestxray14' first (or give "
        "--data-dir a folder with images/)" % (tmp_path / "nope")]


def test_the_cli_without_images_is_one_clear_error(tmp_path):
    from harness.cli import main
    res = CliRunner().invoke(main, ["data", "prepare", "chestxray14", "--dest", str(tmp_path)])
    assert res.exit_code != 0
    assert "no ChestX-ray14 images in" in res.output and "dlbench data fetch chestxray14" in \
        res.output
    assert not os.path.exists(str(tmp_path / "chestxray14" / "images-264"))


# ---------------------------------------------------------------- which folder a run reads

def layout_with_copies(originals, tmp_path, size):
    """The NIH layout (CSV + images/) with prepared copies of the given size beside it."""
    root = tmp_path / "data"
    root.mkdir()
    os.symlink(os.path.join(originals, "images"), str(root / "images"))
    (root / chestxray.CSV_FILE).write_bytes(
        open(os.path.join(originals, chestxray.CSV_FILE), "rb").read())
    proc = prepare(str(root / "images"), str(root / (chestxray.PREPARED_FOLDER % size)),
                   "--size", str(size))
    assert proc.returncode == 0, proc.stderr
    return str(root)


def test_a_run_reads_complete_copies_of_its_resize_size(originals, tmp_path):
    root = layout_with_copies(originals, tmp_path, 264)
    p = dict(params.DENSENET)
    splits, meta = chestxray.load_index(root, p)
    images = meta["images"]
    manifest = os.path.join(root, "images-264", chestxray.MANIFEST)
    assert images["read"] == "prepared" and images["folder"] == "images-264"
    assert images["manifest_sha256"] == sha(manifest) and images["count"] == 6
    assert images["sources_sha256"] == json.load(open(manifest))["sources_sha256"]
    assert images["resize_on_read"] is None
    for split in splits.values():
        assert split["prepared"] is True
        assert all(os.path.dirname(path) == os.path.join(root, "images-264")
                   for path in split["paths"])
        assert chestxray.train_resize(split, p) is None  # decode, crop, flip only
    # another crop (--image-size 32: resize 38) has no copies of its size: the originals
    p38 = dict(p, resize=38)
    splits, meta = chestxray.load_index(root, p38)
    assert meta["images"]["read"] == "originals" and meta["images"]["resize_on_read"] == 38
    assert "images-38" in meta["images"]["why"]
    assert all(os.path.dirname(path) == os.path.join(root, "images")
               for path in splits["train"]["paths"])
    assert chestxray.train_resize(splits["train"], p38) == 38


def test_an_incomplete_manifest_is_not_used(originals, tmp_path):
    root = layout_with_copies(originals, tmp_path, 264)
    manifest = os.path.join(root, "images-264", chestxray.MANIFEST)
    m = json.load(open(manifest))
    m["complete"] = False
    json.dump(m, open(manifest, "w"))
    _, meta = chestxray.load_index(root, dict(params.DENSENET))
    assert meta["images"]["read"] == "originals" and "again" in meta["images"]["why"]
    # a copy missing from a complete folder: one clear error, not a silent switch
    m["complete"] = True
    json.dump(m, open(manifest, "w"))
    name = sorted(n for n in os.listdir(os.path.join(root, "images-264"))
                  if n.endswith(".png"))[0]
    os.remove(os.path.join(root, "images-264", name))
    with pytest.raises(chestxray.DataError) as e:
        chestxray.load_index(root, dict(params.DENSENET))
    assert "dlbench data prepare chestxray14" in str(e.value) and name in str(e.value)



def test_the_hosts_progress_lines():
    """What `dlbench data prepare` prints from the container's JSON lines: a start line, a
    progress line at most every 10 s (and the last), the done line; the error line is not
    echoed (it is raised, once)."""
    from harness.images import data
    said = []
    progress = data.PrepareProgress(said.append)
    lines = [{"event": "start", "total": 112120, "done": 100, "todo": 112020, "size": 264,
              "workers": 2},
             {"event": "progress", "done": 200, "total": 112120, "made": 100,
              "todo": 112020, "seconds": 2.0},
             {"event": "progress", "done": 300, "total": 112120, "made": 200,
              "todo": 112020, "seconds": 4.0},  # within 10 s of the last one shown
             {"event": "done", "total": 112120, "made": 112020, "manifest": "manifest.json",
              "sources_sha256": "ab" * 32, "changed": True}]
    for ev in lines:
        progress.line(json.dumps(ev))
    progress.line("error: 1 of 4 image(s) in /data/images cannot be read as PNG")
    assert said[0] == ("chestxray14: 112120 images, 100 already prepared, 112020 to resize to "
                       "264x264 in 2 worker process(es)")
    assert said[1].startswith("  200/112120 prepared (0%), 50 images/s, about 37 min left")
    assert len(said) == 3 and said[2].startswith("chestxray14: 112120 copies in place")
    assert progress.last_line.startswith("error: 1 of 4")


def test_a_second_prepare_of_the_same_copies_is_refused_in_one_line(tmp_path):
    """Two `dlbench data prepare` at once wrote the same journal and copies (1,175 duplicate
    journal lines, a false "cannot be read" diagnosis): the second is refused while the first
    holds the lock, and the lock goes with the first."""
    from harness.core.errors import HarnessError
    from harness.images import data
    out = str(tmp_path / "images-38")
    with data.only_run(str(tmp_path), out):
        with pytest.raises(HarnessError) as e:
            with data.only_run(str(tmp_path), out):
                pass
        assert "another `dlbench data prepare` (pid %d) is preparing" % os.getpid() \
            in e.value.message
    with data.only_run(str(tmp_path), out):  # free again
        pass


@pytest.mark.parametrize("target", ["outside", "nothing"])
def test_a_png_linking_outside_the_folder_is_refused_not_skipped(originals, tmp_path, target):
    """A symbolic link to a file outside images/ (or to nothing) would be invisible in the
    container: skipped here, missing in every run. The preparation names it and makes no
    manifest."""
    src = tmp_path / "images"
    shutil.copytree(os.path.join(originals, "images"), str(src))
    elsewhere = tmp_path / "elsewhere.png"
    shutil.copy(str(src / "00000001_000.png"), str(elsewhere))
    (src / "00000001_000.png").unlink()
    (src / "00000001_000.png").symlink_to(str(elsewhere) if target == "outside"
                                          else str(src / "gone.png"))
    proc = prepare(str(src), str(tmp_path / "out"))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: 1 image(s) in %s are symbolic links to files outside it or to nothing (first: "
        "00000001_000.png -> " % src), lines
    assert not (tmp_path / "out" / chestxray.MANIFEST).exists()


def test_a_png_linking_inside_the_folder_is_prepared(originals, tmp_path):
    src = tmp_path / "images"
    shutil.copytree(os.path.join(originals, "images"), str(src))
    (src / "00000001_000.png").rename(src / "real.png")
    (src / "00000001_000.png").symlink_to("real.png")
    proc = prepare(str(src), str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "00000001_000.png").is_file()
