"""The dataset cache: CIFAR-10 and IMDB downloaded once, checked against their published
checksums, mounted read-only at /data in every container. A file that fails its checksum
(corrupt, or partial from an interrupted download) is fetched again; downloads go to a .part
file that becomes the real name only after it checks out, and the file it replaces is kept
beside it as <file>.bad-<time>: a user's file is never deleted."""
import hashlib
import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from collections import OrderedDict

import click

from ..core import tls
from ..core.errors import HarnessError
from ..core.userinput import writable_dir

MIRROR_ENV = "DLBENCH_DATA_MIRROR"


class Dataset(object):
    def __init__(self, name, filename, url, algorithm, checksum, source):
        self.name = name
        self.filename = filename
        self.url = url
        self.algorithm = algorithm
        self.checksum = checksum
        self.source = source  # where the checksum is published

    def url_from(self, mirror=None):
        mirror = mirror or os.environ.get(MIRROR_ENV)
        return mirror.rstrip("/") + "/" + self.filename if mirror else self.url


# Published checksums: CIFAR-10's md5 is on https://www.cs.toronto.edu/~kriz/cifar.html;
# imdb.npz's sha256 is the file_hash Keras' keras/datasets/imdb.py checks the download against.
DATASETS = OrderedDict((d.name, d) for d in (
    Dataset("cifar10", "cifar-10-python.tar.gz",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "md5", "c58f30108f718f92721af3b95e74349a", "cs.toronto.edu/~kriz/cifar.html"),
    Dataset("imdb", "imdb.npz",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz",
            "sha256", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
            "keras/datasets/imdb.py file_hash"),
))
# Which dataset each task reads (inference uses random images).
TASK_DATASETS = {"cnn": "cifar10", "rnn": "imdb", "densenet": "chestxray14"}

# ---------------------------------------------------------------- NIH ChestX-ray14 (densenet)
# 112,120 PNGs in 12 tar.gz archives (about 45 GB) and the labels file. Fetched only when named
# (`dlbench data fetch chestxray14`), into DIR/chestxray14/: archives/ (kept, verified),
# images/ (extracted) and Data_Entry_2017.csv, the layout tasks/common/chestxray.py reads.
CHESTXRAY = "chestxray14"
CHESTXRAY_CSV = "Data_Entry_2017.csv"
# The archives' URLs: the NIH release's batch_download_zips.py (nihcc.app.box.com/v/
# ChestXray-NIHCC); their md5s: the same release's FAQ_CHESTXRAY.pdf, question Q07 ("Do you have
# MD5s for the compressed files?", the list Utku Ozbulak provided to the NIH).
_NIH_BOX = "https://nihcc.box.com/shared/static/"
CHESTXRAY_ARCHIVES = [
    Dataset(CHESTXRAY, "images_%03d.tar.gz" % (i + 1), _NIH_BOX + key + ".gz", "md5", md5,
            "NIH FAQ_CHESTXRAY.pdf Q07")
    for i, (key, md5) in enumerate((
        ("vfk49d74nhbxq3nqjg0900w5nvkorp5c", "fe8ed0a6961412fddcbb3603c11b3698"),
        ("i28rlmbvmfjbl8p2n3ril0pptcmcu9d1", "ab07a2d7cbe6f65ddd97b4ed7bde10bf"),
        ("f1t00wrtdk94satdfb9olcolqx20z2jp", "2301d03bde4c246388bad3876965d574"),
        ("0aowwzs5lhjrceb3qp67ahp0rd1l1etg", "9f1b7f5aae01b13f4bc8e2c44a4b8ef6"),
        ("v5e3goj22zr6h8tzualxfsqlqaygfbsn", "1861f3cd0ef7734df8104f2b0309023b"),
        ("asi7ikud9jwnkrnkj99jnpfkjdes7l6l", "456b53a8b351afd92a35bc41444c58c8"),
        ("jn1b4mw4n6lnh74ovmcjb8y48h8xj07n", "1075121ea20a137b87f290d6a4a5965e"),
        ("tvpxmn7qyrgl0w8wfh9kqfjskv6nmm1j", "b61f34cec3aa69f295fbb593cbd9d443"),
        ("upyy3ml7qdumlgk2rfcvlb9k6gvqq2pj", "442a3caa61ae9b64e61c561294d1e183"),
        ("l6nilvfa9cg3s28tqv1qc1olm3gnz54p", "09ec81c4c31e32858ad8cf965c494b74"),
        ("hhq8fkdgvcari67vfhs7ppg2w6ni4jze", "499aefc67207a5a97692424cf5dbeed5"),
        ("ioqwiy20ihqwyr8pf4c24eazhh281pbu", "dc9fda1757c2de0032b63347a7d2895c")))]
# The labels file: the NIH publishes no checksum for it (the FAQ lists the archives only), and
# Box serves it from its web page only; 2017's notebooks/common/utils.py downloaded this copy.
# It is fetched but NOT verified (the result records its sha256, so runs can be compared); a
# checksum computed here on first download would only pin whatever arrived, not verify it.
CHESTXRAY_LABELS = Dataset(CHESTXRAY, CHESTXRAY_CSV,
                           "https://ikpublictutorial.blob.core.windows.net/"
                           "deeplearningframeworks/Data_Entry_2017.csv", None, None,
                           "none published")


def chestxray_subfolder(data_dir):
    """Where the densenet run finds ChestX-ray14 under the data folder: DIR/chestxray14/ (what
    `dlbench data fetch chestxray14` makes), or DIR itself when it holds Data_Entry_2017.csv
    (a local copy given with --data-dir). Returned relative to DIR ('' for DIR itself)."""
    if os.path.isfile(os.path.join(data_dir, CHESTXRAY_CSV)):
        return ""
    return CHESTXRAY


def _extract_images(archive, root, echo):
    """Unpack the PNGs of one NIH archive (members images/<name>.png) into root/images/;
    a marker file says it is done. Refuses members outside images/."""
    marker = os.path.join(root, "archives", "." + os.path.basename(archive) + ".extracted")
    if os.path.exists(marker):
        return
    images = os.path.join(root, "images")
    os.makedirs(images, exist_ok=True)
    echo("%s: extracting %s" % (CHESTXRAY, os.path.basename(archive)))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = os.path.basename(member.name)
                if not member.isfile() or not name.lower().endswith(".png") or \
                        os.path.normpath(member.name).startswith(("..", "/")):
                    continue
                source = tar.extractfile(member)
                with open(os.path.join(images, name + ".part"), "wb") as out:
                    shutil.copyfileobj(source, out)
                os.replace(os.path.join(images, name + ".part"), os.path.join(images, name))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise HarnessError("cannot extract %s (%s): delete it and run `dlbench data fetch "
                           "chestxray14` again" % (archive, e))
    open(marker, "w").close()


def fetch_chestxray(folder, mirror=None, echo=click.echo, archives=None, labels=None):
    """DIR/chestxray14/: the labels file (not verifiable: said so), then each archive, verified
    against the NIH's md5 and extracted. Stops at the first failure (45 GB: one clear line)."""
    root = os.path.join(folder, CHESTXRAY)
    labels = labels or CHESTXRAY_LABELS
    path = os.path.join(root, labels.filename)
    os.makedirs(os.path.join(root, "archives"), exist_ok=True)
    if not os.path.isfile(path):
        url = labels.url_from(mirror)
        echo("%s: downloading %s" % (CHESTXRAY, url))
        try:
            download(url, path + ".part", "sha256", echo=echo)
        except (urllib.error.URLError, OSError, ValueError) as e:
            if os.path.exists(path + ".part"):
                os.remove(path + ".part")
            raise HarnessError("cannot download %s from %s (%s): check the network or proxy, "
                               "pass --mirror URL, or put the NIH files (%s, images/) in %s "
                               "yourself" % (labels.filename, url, getattr(e, "reason", None)
                                             or e, labels.filename, root))
        os.replace(path + ".part", path)
    echo("%s: %s present; the NIH publishes no checksum for it: NOT verified (sha256 %s)"
         % (CHESTXRAY, labels.filename, file_checksum(path, "sha256")))
    for archive in (archives or CHESTXRAY_ARCHIVES):
        state = fetch_one(archive, os.path.join(root, "archives"), mirror, echo)
        echo("%s: %s %s (%s ok)" % (CHESTXRAY, archive.filename, state, archive.algorithm))
        _extract_images(os.path.join(root, "archives", archive.filename), root, echo)
    if not os.path.isfile(os.path.join(root, "images-%d" % PREPARE_SIZE, "manifest.json")):
        echo("%s: next, `dlbench data prepare chestxray14` makes the 264x264 copies 2017's "
             "loaders read (without them each image is resized as it is read: not comparable "
             "with 2017's minutes)" % CHESTXRAY)
    return root


def file_checksum(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_valid(dataset, folder):
    path = os.path.join(folder, dataset.filename)
    return os.path.isfile(path) and file_checksum(path, dataset.algorithm) == dataset.checksum


def missing_for(tasks, folder):
    """Datasets the tasks need that are not in the folder (presence only: tests use small
    generated files in the real formats, which cannot match the published checksums)."""
    out = []
    for task in tasks:
        name = TASK_DATASETS.get(task)
        if name == CHESTXRAY:
            csv = os.path.join(folder, chestxray_subfolder(folder), CHESTXRAY_CSV)
            if not os.path.isfile(csv):
                out.append(Dataset(CHESTXRAY, os.path.join(CHESTXRAY, CHESTXRAY_CSV) +
                                   " (and images/; `dlbench data fetch chestxray14`, or "
                                   "--data-dir a folder that holds them)", None, None, None,
                                   None))
        elif name and not os.path.isfile(os.path.join(folder, DATASETS[name].filename)):
            out.append(DATASETS[name])
    return out


def download(url, path, algorithm, echo=click.echo, timeout=60):
    """Stream url to path (a .part file), returning the checksum of what arrived."""
    h = hashlib.new(algorithm)
    req = urllib.request.Request(url, headers={"User-Agent": "dlbench"})
    ctx = tls.ssl_context() if url.startswith("https:") else None
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp, \
            open(path, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0)
        done, shown = 0, time.time()
        for block in iter(lambda: resp.read(1 << 20), b""):
            out.write(block)
            h.update(block)
            done += len(block)
            if time.time() - shown > 2:
                shown = time.time()
                echo("  %.0f/%s MB" % (done / 1e6, "%.0f" % (total / 1e6) if total else "?"))
    return h.hexdigest()


def fetch_one(dataset, folder, mirror=None, echo=click.echo):
    """Make folder/<file> a verified copy; returns 'cached' or 'fetched'. Raises HarnessError.

    A file there that fails its checksum stays where it is while the download runs; only a
    verified download replaces it, and then it is kept beside it as <file>.bad-<time> (it may
    be the user's own copy). When the download fails, the file is left as it was."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, dataset.filename)
    replaced = os.path.isfile(path)
    if replaced:
        if file_checksum(path, dataset.algorithm) == dataset.checksum:
            return "cached"
        echo("%s: %s fails its %s check (corrupt or partial): fetching a verified copy; the "
             "file stays until one arrives, then is kept as %s.bad-<time>"
             % (dataset.name, path, dataset.algorithm, dataset.filename))
    kept = ("; %s is left as it was (it fails its %s check)" % (path, dataset.algorithm)
            if replaced else "")
    url = dataset.url_from(mirror)
    part = path + ".part"
    echo("%s: downloading %s" % (dataset.name, url))
    try:
        got = download(url, part, dataset.algorithm, echo=echo)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(part):
            os.remove(part)
        reason = getattr(e, "reason", None) or e
        raise HarnessError("cannot download %s from %s (%s): check the network or proxy, pass "
                           "--mirror URL, or copy the file into %s yourself%s"
                           % (dataset.filename, url, reason, folder, kept))
    if got != dataset.checksum:
        os.remove(part)
        raise HarnessError("%s from %s has %s %s, expected %s (published: %s): the download is "
                           "corrupt or the mirror serves another file%s"
                           % (dataset.filename, url, dataset.algorithm, got, dataset.checksum,
                              dataset.source, kept))
    if replaced:
        aside = _aside(path)
        os.replace(path, aside)
        echo("%s: the file that failed its check is kept as %s (delete it when you no longer "
             "need it)" % (dataset.name, aside))
    os.replace(part, path)
    return "fetched"


def _aside(path):
    """A free name beside path for a file that failed its check: path.bad-<time>[-N]."""
    base = "%s.bad-%s" % (path, time.strftime("%Y%m%d-%H%M%S"))
    aside, n = base, 1
    while os.path.exists(aside):
        n += 1
        aside = "%s-%d" % (base, n)
    return aside


def fetch(names, folder, mirror=None, echo=click.echo, datasets=None):
    """Fetch each named dataset (all when none named). Every dataset is tried; the first
    failure is raised after the others were attempted."""
    table = datasets or DATASETS
    unknown = [n for n in names if n not in table and n != CHESTXRAY]
    if unknown:
        raise HarnessError("unknown dataset %s; known: %s"
                           % (", ".join(unknown), ", ".join(list(table) + [CHESTXRAY])))
    writable_dir(folder, "data folder")
    if CHESTXRAY in names:  # 45 GB: only when named, never part of "all"
        fetch_chestxray(folder, mirror, echo)
        names = [n for n in names if n != CHESTXRAY]
        if not names:
            return
    first_error = None
    for name in (names or list(table)):
        try:
            state = fetch_one(table[name], folder, mirror, echo)
            echo("%s: %s (%s ok)" % (name, state, table[name].algorithm))
        except HarnessError as e:
            echo("%s: failed" % name, err=True)
            first_error = first_error or e
    if first_error:
        raise first_error


# ---------------------------------------------------------------- ChestX-ray14: the 264 px copies
# 2017 resized every PNG once, before training (notebooks/common/utils.py resize_im: Pillow's
# bilinear resize to 264x264, then RGB, saved over the original); its loaders then only decoded,
# cropped and flipped. `dlbench data prepare chestxray14` makes those copies beside the
# originals, DIR/chestxray14/images-264/ (the originals are never written), which
# tasks/common/chestxray.py reads when their manifest says they are complete.
#
# Where it runs: in a framework image (default PREPARE_IMAGE, whose Pillow is pinned and is the
# one its DenseNet loader decodes with), as tasks/prepare_chestxray.py, hardened like every
# dlbench container (no network, the invoking user's uid, read-only root); the originals are
# mounted read-only, only the copies' folder writable. The host needs nothing beyond dlbench's
# own dependencies (Pillow is not one of them), and the manifest names the Pillow that resized.
PREPARE_IMAGE = "pytorch-2.13"
PREPARE_SIZE = 264  # tasks/common/params.py DENSENET["resize"]


def prepared_folder(data_dir, size=PREPARE_SIZE):
    """(root of the NIH layout, its images/, the copies' folder images-<size>/)."""
    root = os.path.join(data_dir, chestxray_subfolder(data_dir))
    return root, os.path.join(root, "images"), os.path.join(root, "images-%d" % size)


class PrepareProgress(object):
    """The container's JSON lines (tasks/prepare_chestxray.py) as a few lines for a person."""

    def __init__(self, echo):
        self.echo, self.last_line, self.error_line, self.shown = echo, "", "", 0.0

    def line(self, text):
        text = text.rstrip("\r")
        if text.strip() and not text.startswith("{"):  # a JSON event is never the error
            self.last_line = text
        if text.startswith("error: "):
            self.error_line = text[len("error: "):]
        try:
            ev = json.loads(text) if text.startswith("{") else None
        except ValueError:
            ev = None
        if not isinstance(ev, dict) or "event" not in ev:
            if text.strip() and not text.startswith("error: "):  # that one is raised
                self.echo("  " + text)
            return
        kind = ev["event"]
        if kind == "start":
            self.echo("%s: %d images, %d already prepared, %d to resize to %dx%d in %d worker "
                      "process(es)" % (CHESTXRAY, ev["total"], ev["done"], ev["todo"],
                                       ev["size"], ev["size"], ev["workers"]))
        elif kind == "progress":
            if ev["made"] < ev["todo"] and time.time() - self.shown < 10:
                return
            self.shown = time.time()
            rate = ev["made"] / ev["seconds"] if ev.get("seconds") else None
            left = (ev["todo"] - ev["made"]) / rate if rate else None
            self.echo("  %d/%d prepared (%.0f%%)%s" % (
                ev["done"], ev["total"], 100.0 * ev["done"] / max(1, ev["total"]),
                ", %.0f images/s, about %s left" % (rate, _duration(left))
                if rate and ev["made"] < ev["todo"] else ""))
        elif kind == "done":
            made = ev["made"]
            seconds = ev.get("seconds")
            self.echo("%s: %d copies in place (%d made now%s); manifest %s, originals' checksum "
                      "set %s%s" % (CHESTXRAY, ev["total"], made,
                                    " in %.1f s, %.0f images/s" % (seconds, made / seconds)
                                    if made and seconds else "", ev["manifest"],
                                    ev["sources_sha256"][:16],
                                    "" if ev.get("changed") else " (unchanged)"))


def _duration(seconds):
    if seconds is None:
        return "?"
    if seconds < 90:
        return "%.0f s" % seconds
    if seconds < 5400:
        return "%.0f min" % (seconds / 60.0)
    return "%.1f h" % (seconds / 3600.0)


class only_run(object):
    """with only_run(root, out): this process alone prepares `out` (an exclusive lock on
    root/.prepare-<folder>.lock, taken without waiting); a second `dlbench data prepare` of the
    same copies is refused in one line instead of writing the same journal and files at once."""

    def __init__(self, root, out):
        self.path = os.path.join(root, ".prepare-%s.lock" % os.path.basename(out))
        self.out, self.f = out, None

    def __enter__(self):
        import fcntl
        self.f = open(self.path, "a+")
        try:
            fcntl.flock(self.f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.seek(0)
            holder = self.f.read().strip() or "?"
            self.f.close()
            raise HarnessError("another `dlbench data prepare` (pid %s) is preparing %s: wait "
                               "for it to end, or stop it; a rerun resumes where it stopped"
                               % (holder, self.out))
        self.f.seek(0)
        self.f.truncate()
        self.f.write("%d\n" % os.getpid())
        self.f.flush()
        return self

    def __exit__(self, *exc):
        self.f.close()  # the lock goes with the file
        return False


def prepare_chestxray(data_dir, size=PREPARE_SIZE, image_name=PREPARE_IMAGE, workers=None,
                      echo=click.echo, timeout=24 * 3600):
    """Make (or complete) the size x size copies in a container of image_name; returns the
    copies' folder. Raises HarnessError with one line (the container's own error line when it
    gave one)."""
    from . import build
    from ..core import catalog, paths
    from ..containers import oneshot
    root, images, out = prepared_folder(data_dir, size)
    if not os.path.isdir(images):
        raise HarnessError("no ChestX-ray14 images in %s: run `dlbench data fetch chestxray14` "
                           "first (or give --dest a folder with Data_Entry_2017.csv and "
                           "images/)" % images)
    writable_dir(root, "data folder")
    image = catalog.lookup([image_name])[0]
    built = build.ensure_built(image, echo=echo)
    os.makedirs(out, exist_ok=True)
    cmd = ["python3", "/tasks/prepare_chestxray.py", "--src", "/data/images",
           "--out", "/prepared", "--size", str(size)]
    if workers:
        cmd += ["--workers", str(workers)]
    echo("%s: resizing %s into %s in %s (Pillow's bilinear filter, as 2017's resize_im)"
         % (CHESTXRAY, images, out, image.name))
    progress = PrepareProgress(echo)
    with only_run(root, out):
        done = oneshot.run(
            built.image_id, cmd, "data-prepare", on_line=progress.line, timeout=timeout,
            name="dlbench-prepare-%s-%d" % (CHESTXRAY, os.getpid()),
            volumes={paths.tasks_dir(): {"bind": "/tasks", "mode": "ro"},
                     os.path.abspath(images): {"bind": "/data/images", "mode": "ro"},
                     os.path.abspath(out): {"bind": "/prepared", "mode": "rw"}},
            # with what an earlier run left there: the journal and copies it resumes from
            writable_trees=[os.path.abspath(out)], labels={catalog.IMAGE_NAME_LABEL: image.name})
    if done.refused:
        raise HarnessError("could not run the preparation in %s: %s" % (image.name, done.refused))
    code = done.exit_code
    if code != 0:
        # the container's paths said as the host paths the user gave
        def host_paths(text):
            return text.replace("/data/images", images).replace("/prepared", out)
        if progress.error_line:
            raise HarnessError(host_paths(progress.error_line.strip()))
        last = progress.last_line.strip()
        raise HarnessError("the preparation in %s stopped (%s)%s" % (
            image.name, done.problem or "exit %s" % code,
            ": " + host_paths(last) if last else ""))
    return out
