"""The dataset cache: CIFAR-10 and IMDB downloaded once, checked against their published
checksums, mounted read-only at /data in every container. A file that fails its checksum
(corrupt, or partial from an interrupted download) is fetched again; downloads go to a .part
file that becomes the real name only after it checks out, and the file it replaces is kept
beside it as <file>.bad-<time>: a user's file is never deleted."""
import hashlib
import os
import time
import urllib.error
import urllib.request
from collections import OrderedDict

import click

from . import tls
from .errors import HarnessError
from .options import writable_dir

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
TASK_DATASETS = {"cnn": "cifar10", "rnn": "imdb"}


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
        if name and not os.path.isfile(os.path.join(folder, DATASETS[name].filename)):
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
    unknown = [n for n in names if n not in table]
    if unknown:
        raise HarnessError("unknown dataset %s; known: %s"
                           % (", ".join(unknown), ", ".join(table)))
    writable_dir(folder, "data folder")
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
