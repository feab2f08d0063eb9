"""The real loaders on small files in the real CIFAR-10 / IMDB formats."""
import gzip
import sys
import tarfile

import numpy as np
import pytest

from helpers import TASKS

sys.path.insert(0, TASKS)
from common import params  # noqa: E402
from runtime import data  # noqa: E402
from runtime.batches import minibatches  # noqa: E402

from helpers.datagen import cifar_arrays, make_cifar_tarball, make_imdb_npz  # noqa: E402


def test_cifar_tarball_shapes_dtypes_scaling(tmp_path):
    make_cifar_tarball(str(tmp_path / data.CIFAR_TARBALL), n=20)
    d = data.load_cifar(str(tmp_path))
    assert d["x_train"].shape == (100, 3, 32, 32) and d["x_test"].shape == (20, 3, 32, 32)
    assert d["x_train"].dtype == np.float32 and d["y_train"].dtype == np.int32
    assert 0.0 <= d["x_train"].min() and d["x_train"].max() <= 1.0
    # NCHW from the row layout: first 1024 bytes of a row are the red plane
    raw, labels = cifar_arrays(20, seed=0)
    np.testing.assert_allclose(d["x_train"][0, 0].ravel(), raw[0, :1024] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(d["x_train"][0, 2].ravel(), raw[0, 2048:] / 255.0, rtol=1e-6)
    assert list(d["y_train"][:20]) == labels
    meta = d["meta"]
    assert meta["source"] == "real" and meta["sizes"] == {"train": 100, "test": 20}
    assert meta["file_sha256"] == data.file_sha256(str(tmp_path / data.CIFAR_TARBALL))
    assert len(meta["sha256"]) == 64


def test_cifar_extracted_folder_and_str_keys(tmp_path):
    tarball = make_cifar_tarball(str(tmp_path / "t.tar.gz"), n=8, py2_bytes_keys=False)
    with tarfile.open(tarball) as tar:
        tar.extractall(str(tmp_path))
    d = data.load_cifar(str(tmp_path), limit=5)
    assert d["x_train"].shape == (5, 3, 32, 32) and d["meta"]["limited"] == 5
    assert d["meta"]["path"].endswith(data.CIFAR_FOLDER)


def test_checksum_of_inputs_changes_with_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    make_cifar_tarball(str(a / data.CIFAR_TARBALL), n=8, seed=1)
    make_cifar_tarball(str(b / data.CIFAR_TARBALL), n=8, seed=2)
    assert data.load_cifar(str(a))["meta"]["sha256"] != data.load_cifar(str(b))["meta"]["sha256"]
    assert data.load_cifar(str(a))["meta"]["sha256"] == data.load_cifar(str(a))["meta"]["sha256"]


def test_truncated_cifar_tarball_is_a_clear_error(tmp_path):
    path = make_cifar_tarball(str(tmp_path / data.CIFAR_TARBALL), n=50)
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:len(blob) // 2])
    with pytest.raises(data.DataError, match="corrupt or truncated.*dlbench data fetch"):
        data.load_cifar(str(tmp_path))


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(data.DataError, match="--synthetic"):
        data.load_cifar(str(tmp_path))
    with pytest.raises(data.DataError, match="--synthetic"):
        data.load_imdb(str(tmp_path), params.RNN)


def test_imdb_rules_of_2017():
    p = dict(params.RNN, max_features=10, maxlen=5)
    out = data.imdb_preprocess([[1, 2, 3], [4, 5, 6, 7, 8, 9], []], p["max_features"],
                               p["maxlen"])
    # start 1, words shifted by 3, >= 10 -> OOV 2, keep the last 5, zero padding at the END
    # (2017's utils.imdb_for_library writes the kept tokens from position 0)
    assert out.tolist()[0] == [1, 4, 5, 6, 0]
    assert out.tolist()[1] == [8, 9, 2, 2, 2]
    assert out.tolist()[2] == [1, 0, 0, 0, 0]
    assert out.dtype == np.int32


def test_imdb_npz(tmp_path):
    make_imdb_npz(str(tmp_path / data.IMDB_FILE), n=30)
    d = data.load_imdb(str(tmp_path), params.RNN)
    assert d["x_train"].shape == (30, 150) and d["x_test"].shape == (30, 150)
    assert d["x_train"].dtype == np.int32 and d["y_train"].dtype == np.int32
    assert d["x_train"].max() < params.RNN["max_features"]
    # padding at the end: a row's tokens come first, then only zeros; a row shorter than
    # 150 tokens starts with the start token
    for row in d["x_train"]:
        nz = np.flatnonzero(row)
        assert (nz == np.arange(len(nz))).all()
        assert row[0] == 1 or len(nz) == 150
    assert any(row[-1] == 0 for row in d["x_train"])  # some reviews are shorter: padded
    assert d["meta"]["source"] == "real" and len(d["meta"]["file_sha256"]) == 64


def test_corrupt_imdb_is_a_clear_error(tmp_path):
    (tmp_path / data.IMDB_FILE).write_bytes(gzip.compress(b"not an npz"))
    with pytest.raises(data.DataError, match="corrupt"):
        data.load_imdb(str(tmp_path), params.RNN)


def test_synthetic_is_labelled_and_shaped():
    c = data.synthetic_cifar(0, limit=100)
    assert c["meta"]["source"] == "synthetic" and c["x_train"].shape == (100, 3, 32, 32)
    i = data.synthetic_imdb(params.RNN, 0, limit=100)
    assert i["meta"]["source"] == "synthetic" and i["x_train"].shape == (100, 150)
    assert i["x_train"].max() < params.RNN["max_features"]
    r = data.random_images(params.INFERENCE, 0, layout="NHWC", limit=64)
    assert r["x"].shape == (64, 224, 224, 3) and r["meta"]["source"] == "synthetic"


def test_minibatches_complete_shuffled_seeded():
    x = np.arange(100)
    y = np.arange(100)
    a = list(minibatches(x, y, 32, np.random.RandomState(0)))
    b = list(minibatches(x, y, 32, np.random.RandomState(0)))
    assert len(a) == 3 and all(len(xb) == 32 for xb, _ in a)  # the tail of 4 is dropped
    assert all((xa == xb).all() for (xa, _), (xb, _) in zip(a, b))
    assert not (a[0][0] == np.arange(32)).all()  # shuffled
    rng = np.random.RandomState(0)
    e1 = np.concatenate([xb for xb, _ in minibatches(x, y, 32, rng)])
    e2 = np.concatenate([xb for xb, _ in minibatches(x, y, 32, rng)])
    assert not (e1 == e2).all()  # a new order every epoch
    for xb, yb in a:
        assert (xb == yb).all()  # pairs stay together
