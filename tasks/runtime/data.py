"""Dataset loaders (CIFAR-10 python pickles, Keras IMDB npz) and synthetic stand-ins.

Every loader returns a dict of numpy arrays plus a "meta" dict that the result records:
source (real or synthetic), the file read, its sha256 and the sha256 of the arrays fed to
the model. Layouts follow the 2017 benchmark: images NCHW float32 scaled to 0..1, labels int32;
IMDB as int32 token matrices (N, maxlen) after the Keras preprocessing.
"""
from __future__ import absolute_import, division, print_function
import os
import pickle
import sys
import tarfile

import numpy as np

from common.datafiles import DataError, arrays_sha256, file_sha256  # noqa: F401 (run.py: datasets.DataError)

CIFAR_TARBALL = "cifar-10-python.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = ["data_batch_%d" % i for i in range(1, 6)]
CIFAR_TEST = "test_batch"
IMDB_FILE = "imdb.npz"


# ---------------------------------------------------------------- CIFAR-10

class _Unpickler(pickle.Unpickler):
    """Reads arrays pickled by numpy 2 (module numpy._core) with a numpy 1 (numpy.core) too: the
    images of old frameworks (numpy 1.14 .. 1.20) read a batch re-pickled by a current numpy."""

    def find_class(self, module, name):
        try:
            return pickle.Unpickler.find_class(self, module, name)
        except ImportError:
            if not module.startswith("numpy._core"):
                raise
            return pickle.Unpickler.find_class(self, "numpy.core" + module[11:], name)


def _unpickle(fileobj, name):
    # The official batches were pickled by Python 2: on Python 3 their keys come back as bytes
    # (encoding="bytes"); Python 2 (the cntk-2.7 image) reads them as they are
    options = {"encoding": "bytes"} if sys.version_info[0] >= 3 else {}
    try:
        batch = _Unpickler(fileobj, **options).load()
    except Exception as e:
        raise DataError("CIFAR-10 batch %s is corrupt (%s): delete it and run "
                        "'dlbench data fetch' again" % (name, e))
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataError("CIFAR-10 batch %s has no data/labels entries: not a CIFAR-10 "
                        "python batch" % name)
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != len(labels):
        raise DataError("CIFAR-10 batch %s has data of shape %s for %d labels; expected "
                        "(N, 3072)" % (name, data.shape, len(labels)))
    return data, np.asarray(labels, dtype=np.int32)


def _read_cifar_batches(root):
    """Yield (name, fileobj) for the six batches from a tarball or an extracted folder."""
    tarball = os.path.join(root, CIFAR_TARBALL)
    folder = os.path.join(root, CIFAR_FOLDER)
    if os.path.isdir(folder):
        for name in CIFAR_TRAIN + [CIFAR_TEST]:
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                raise DataError("CIFAR-10 folder %s lacks %s: re-extract the tarball or run "
                                "'dlbench data fetch'" % (folder, name))
            with open(path, "rb") as f:
                yield name, f
        return
    if not os.path.exists(tarball):
        raise DataError("no CIFAR-10 under %s (expected %s or %s/): run 'dlbench data fetch' "
                        "or pass --synthetic" % (root, CIFAR_TARBALL, CIFAR_FOLDER))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            members = dict((os.path.basename(m.name), m) for m in tar.getmembers() if m.isfile())
            for name in CIFAR_TRAIN + [CIFAR_TEST]:
                if name not in members:
                    raise DataError("CIFAR-10 tarball %s lacks %s: delete it and run "
                                    "'dlbench data fetch' again" % (tarball, name))
                yield name, tar.extractfile(members[name])
    except (tarfile.TarError, EOFError, IOError, OSError) as e:
        raise DataError("CIFAR-10 tarball %s is corrupt or truncated (%s): delete it and run "
                        "'dlbench data fetch' again" % (tarball, e))


def cifar_source_path(root):
    folder = os.path.join(root, CIFAR_FOLDER)
    return folder if os.path.isdir(folder) else os.path.join(root, CIFAR_TARBALL)


def load_cifar(root, limit=None):
    """CIFAR-10 as x (N,3,32,32) float32 in 0..1 and y (N,) int32, train and test."""
    parts = {}
    for name, f in _read_cifar_batches(root):
        parts[name] = _unpickle(f, name)
    x_train = np.concatenate([parts[n][0] for n in CIFAR_TRAIN])
    y_train = np.concatenate([parts[n][1] for n in CIFAR_TRAIN])
    x_test, y_test = parts[CIFAR_TEST]
    path = cifar_source_path(root)
    return _cifar_arrays(x_train, y_train, x_test, y_test, limit, meta={
        "source": "real", "dataset": "cifar-10", "path": path,
        "file_sha256": file_sha256(path) if os.path.isfile(path) else None})


def synthetic_cifar(seed, n_train=50000, n_test=10000, n_classes=10, limit=None):
    """Random images with CIFAR-10's shapes and dtypes. Each class adds its own fixed
    pattern to uniform noise, so the task is learnable and accuracy stays meaningful as a
    sanity check, but the data is synthetic and every result says so."""
    rng = np.random.RandomState(seed)
    templates = rng.randint(0, 256, size=(n_classes, 3072)).astype(np.float32)

    def make(n):
        y = rng.randint(0, n_classes, size=n).astype(np.int32)
        noise = rng.randint(0, 256, size=(n, 3072)).astype(np.float32)
        x = (0.5 * noise + 0.5 * templates[y]).astype(np.uint8)
        return x, y

    x_train, y_train = make(n_train if limit is None else min(n_train, limit))
    x_test, y_test = make(n_test if limit is None else min(n_test, limit))
    return _cifar_arrays(x_train, y_train, x_test, y_test, limit, meta={
        "source": "synthetic", "dataset": "cifar-10-shaped synthetic (seed %d)" % seed,
        "path": None, "file_sha256": None})


def _cifar_arrays(x_train, y_train, x_test, y_test, limit, meta):
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
        x_test, y_test = x_test[:limit], y_test[:limit]

    def scale(x):
        # uint8 rows of 3072 = 3 colour planes of 32x32: reshape gives NCHW directly.
        return (x.reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255.0))

    out = {"x_train": scale(x_train), "y_train": y_train.astype(np.int32),
           "x_test": scale(x_test), "y_test": y_test.astype(np.int32)}
    meta = dict(meta)
    meta["limited"] = limit
    meta["sizes"] = {"train": int(len(y_train)), "test": int(len(y_test))}
    meta["sha256"] = arrays_sha256(out["x_train"], out["y_train"], out["x_test"], out["y_test"])
    out["meta"] = meta
    return out


# ---------------------------------------------------------------- IMDB

def imdb_preprocess(sequences, max_features, maxlen, start_char=1, oov_char=2, index_from=3):
    """The 2017 benchmark's IMDB rules (notebooks/common/utils.py imdb_for_library, which every
    2017 RNN notebook used): prepend start_char, shift word indices by index_from, replace
    indices >= max_features by oov_char, keep the last maxlen tokens and write them from
    position 0, so the zero padding goes at the END (unlike Keras's pad_sequences, which pads
    in front). The GRU's last output is therefore read after the padding, as in 2017."""
    out = np.zeros((len(sequences), maxlen), dtype=np.int32)
    for i, seq in enumerate(sequences):
        words = [start_char] + [int(w) + index_from for w in seq]
        words = [w if w < max_features else oov_char for w in words]
        words = words[-maxlen:]
        out[i, :len(words)] = words
    return out


def load_imdb(root, p, limit=None):
    """IMDB from the Keras npz (x_train, y_train, x_test, y_test of ragged int lists)."""
    path = os.path.join(root, IMDB_FILE)
    if not os.path.exists(path):
        raise DataError("no IMDB file %s: run 'dlbench data fetch' or pass --synthetic" % path)
    try:
        with np.load(path, allow_pickle=True) as f:
            raw = dict((k, f[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
    except KeyError as e:
        raise DataError("IMDB file %s lacks %s: not the Keras imdb.npz" % (path, e))
    except Exception as e:
        raise DataError("IMDB file %s is corrupt or truncated (%s): delete it and run "
                        "'dlbench data fetch' again" % (path, e))
    if len(raw["x_train"]) != len(raw["y_train"]) or len(raw["x_test"]) != len(raw["y_test"]):
        raise DataError("IMDB file %s has mismatched sequence and label counts" % path)
    if limit is not None:
        raw = dict((k, v[:limit]) for k, v in raw.items())

    def prep(x):
        return imdb_preprocess(x, p["max_features"], p["maxlen"], p["start_char"],
                               p["oov_char"], p["index_from"])

    out = {"x_train": prep(raw["x_train"]), "y_train": np.asarray(raw["y_train"], np.int32),
           "x_test": prep(raw["x_test"]), "y_test": np.asarray(raw["y_test"], np.int32)}
    return _imdb_meta(out, limit, {"source": "real", "dataset": "imdb (keras npz)",
                                   "path": path, "file_sha256": file_sha256(path)})


def synthetic_imdb(p, seed, n_train=25000, n_test=25000, limit=None):
    """Token matrices with IMDB's shapes after preprocessing. Each class draws its words
    from its own half of the vocabulary more often, so the task is learnable; synthetic."""
    rng = np.random.RandomState(seed)
    vocab, maxlen = p["max_features"], p["maxlen"]

    def make(n):
        y = rng.randint(0, 2, size=n).astype(np.int32)
        x = rng.randint(p["index_from"], vocab, size=(n, maxlen)).astype(np.int32)
        lean = rng.rand(n, maxlen) < 0.3
        half = vocab // 2
        biased = np.where(y[:, None] == 1, half + x % (vocab - half), x % half + p["index_from"])
        x = np.where(lean, biased, x).astype(np.int32)
        x[:, 0] = p["start_char"]
        return x, y

    x_train, y_train = make(n_train if limit is None else min(n_train, limit))
    x_test, y_test = make(n_test if limit is None else min(n_test, limit))
    out = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _imdb_meta(out, limit, {"source": "synthetic",
                                   "dataset": "imdb-shaped synthetic (seed %d)" % seed,
                                   "path": None, "file_sha256": None})


def _imdb_meta(out, limit, meta):
    meta = dict(meta)
    meta["limited"] = limit
    meta["sizes"] = {"train": int(len(out["y_train"])), "test": int(len(out["y_test"]))}
    meta["sha256"] = arrays_sha256(out["x_train"], out["y_train"], out["x_test"], out["y_test"])
    out["meta"] = meta
    return out


# ---------------------------------------------------------------- inference input

def random_images(p, seed, layout="NCHW", limit=None):
    """The 2017 inference protocol times random 224x224 images (weights and inputs do not
    change the time); they are synthetic by design and the result says so."""
    n = p["batch_size"] * p["batches"]
    if limit is not None:
        n = max(p["batch_size"], (min(n, limit) // p["batch_size"]) * p["batch_size"])
    rng = np.random.RandomState(seed)
    shape = (n, p["channels"], p["height"], p["width"])
    if layout == "NHWC":
        shape = (n, p["height"], p["width"], p["channels"])
    x = rng.rand(*shape).astype(np.float32)
    meta = {"source": "synthetic", "dataset": "random images (the 2017 inference protocol)",
            "path": None, "file_sha256": None, "limited": limit,
            "sizes": {"images": int(n)}, "sha256": arrays_sha256(x)}
    return {"x": x, "meta": meta}
