"""tasks/common/chestxray.py on the host (numpy only): the NIH label file read from a generated
folder of real PNGs and a CSV in the release's format, 2017's label order and patient-wise
split, the synthetic stand-in, and the mean ROC AUC against hand computations."""
import os
import sys

import numpy as np
import pytest

from helpers.datagen import CHESTXRAY_HEADER, make_chestxray_dir

from helpers import ROOT
sys.path.insert(0, os.path.join(ROOT, "tasks"))

from common import chestxray, params  # noqa: E402
from common.datafiles import DataError  # noqa: E402

P = params.DENSENET


def test_labels_are_2017s_sorted_columns_without_no_finding():
    # pandas get_dummies sorts its columns; 2017 dropped "No Finding"
    assert list(chestxray.LABELS) == sorted(chestxray.LABELS) and len(chestxray.LABELS) == 14
    assert "No Finding" not in chestxray.LABELS
    y = chestxray.multi_hot("Effusion|Mass")
    assert y.dtype == np.float32 and y.sum() == 2
    assert y[chestxray.LABELS.index("Effusion")] == 1 and y[chestxray.LABELS.index("Mass")] == 1
    assert chestxray.multi_hot("No Finding").sum() == 0
    with pytest.raises(ValueError):
        chestxray.multi_hot("Effusion|Broken_Leg")


def test_patient_split_is_2017s():
    # the notebooks print "train:21563 valid:3080 test:6162" for TOT_PATIENT_NUMBER 30805
    train, valid, test = chestxray.patient_split(P["patients"], P["split"])
    assert (len(train), len(valid), len(test)) == (21563, 3080, 6162)
    assert train[0] == 1 and train[-1] + 1 == valid[0] and valid[-1] + 1 == test[0]
    assert test[-1] == 30805


def test_load_index_splits_by_patient(tmp_path):
    rows = make_chestxray_dir(str(tmp_path), patients=20, per_patient=3, size=16)
    splits, meta = chestxray.load_index(str(tmp_path), P)
    assert meta["source"] == "real" and meta["patients"] == 20
    assert meta["sizes"] == {"train": 42, "valid": 6, "test": 12}  # 14 / 2 / 4 patients x 3
    seen = {}
    for name in chestxray.SPLITS:
        s = splits[name]
        assert len(s["paths"]) == len(s["labels"]) == len(s["patients"])
        assert s["labels"].shape[1] == 14 and s["labels"].dtype == np.float32
        for pid in set(s["patients"].tolist()):
            assert pid not in seen, "patient %d in %s and %s" % (pid, seen[pid], name)
            seen[pid] = name
    assert sorted(seen) == list(range(1, 21))
    # the labels follow the CSV row of each image
    by_name = dict((r[0], r[1]) for r in rows)
    for path, y in zip(splits["test"]["paths"], splits["test"]["labels"]):
        assert np.array_equal(y, chestxray.multi_hot(by_name[os.path.basename(path)]))
    limited, meta = chestxray.load_index(str(tmp_path), P, limit=2)
    assert meta["sizes"] == {"train": 2, "valid": 2, "test": 2} and meta["limited"] == 2


def test_the_real_csv_header_parses(tmp_path):
    # "OriginalImage[Width,Height]" splits into two columns, and the trailing comma makes an
    # empty one: the columns 2017 read are still found by name
    make_chestxray_dir(str(tmp_path), patients=3, per_patient=1, size=8)
    assert open(str(tmp_path / "Data_Entry_2017.csv")).readline().strip() == CHESTXRAY_HEADER
    assert len(chestxray.read_entries(str(tmp_path))) == 3


def test_bad_data_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="dlbench data fetch chestxray14"):
        chestxray.load_index(str(tmp_path), P)
    make_chestxray_dir(str(tmp_path), patients=4, per_patient=1, size=8)
    os.remove(str(tmp_path / "images" / "00000002_000.png"))
    with pytest.raises(DataError, match="1 image.*missing.*00000002_000.png"):
        chestxray.load_index(str(tmp_path), P)
    (tmp_path / "Data_Entry_2017.csv").write_text("Image Index,Labels\nx.png,Mass\n")
    with pytest.raises(DataError, match="'Finding Labels', 'Patient ID'"):
        chestxray.load_index(str(tmp_path), P)


def test_synthetic_is_labelled_and_cycles_a_pool():
    splits, meta = chestxray.synthetic(P, seed=3, limit=1000, layout="NHWC")
    assert meta["source"] == "synthetic" and "synthetic" in meta["dataset"]
    train = splits["train"]
    assert train["size"] == 1000 and train["x"].shape == (P["synthetic_pool"], 224, 224, 3)
    assert splits["valid"] is None
    rows = chestxray.synthetic_rows(train, 250, 10)
    assert rows.tolist() == [250, 251, 252, 253, 254, 255, 0, 1, 2, 3]


def test_auc_against_hand_computation():
    # label 0: positives score 0.9 and 0.4, negatives 0.2 and 0.4: of the 4 pairs 3 are
    # ordered right and 1 is a tie (half): 3.5 / 4
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.5], [0.4, 0.6]])
    assert chestxray.roc_auc(y[:, 0], s[:, 0]) == pytest.approx(0.875)
    # label 1: positives 0.3, 0.6 against negatives 0.1, 0.5: 0.3>0.1, 0.6>0.1, 0.6>0.5: 3 / 4
    assert chestxray.roc_auc(y[:, 1], s[:, 1]) == pytest.approx(0.75)
    mean, per = chestxray.mean_auc(y, s)
    assert mean == pytest.approx((0.875 + 0.75) / 2) and per == pytest.approx([0.875, 0.75])
    # perfect and reversed rankings
    assert chestxray.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert chestxray.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_a_label_with_one_class_is_left_out_of_the_mean():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1]])
    s = np.array([[0.8, 0.5, 0.1], [0.3, 0.5, 0.2], [0.6, 0.5, 0.3]])
    mean, per = chestxray.mean_auc(y, s)
    assert per[1] is None and per[2] is None  # no positive / no negative: undefined
    assert mean == pytest.approx(1.0)
    assert chestxray.mean_auc(np.zeros((3, 2)), np.ones((3, 2))) == (None, [None, None])


def test_auc_matches_a_brute_force_pair_count():
    rng = np.random.RandomState(0)
    y = rng.rand(200) < 0.3
    s = np.round(rng.rand(200), 1)  # many ties
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert chestxray.roc_auc(y, s) == pytest.approx(pairs / float(len(pos) * len(neg)))


def _old_pytorch_rows(split, batch, rank, world, train):
    """tasks/densenet/pytorch.py's InMemory before it was folded into InMemoryBatches (its
    arithmetic, copied here as the yardstick): each batch's pool rows."""
    rank, world = (rank, world) if train else (0, 1)
    size = split["size"]
    step = batch * world
    stop = (size // step) * step if train else size
    return [chestxray.synthetic_rows(split, start + rank * batch, min(batch, stop - start))
            for start in range(0, stop, step)]


def _old_tensorflow_rows(split, batch, train):
    """tasks/densenet/tensorflow.py's InMemory before the fold (batch: the global batch in
    training, the per-device batch for evaluation)."""
    size = split["size"]
    stop = (size // batch) * batch if train else size
    return [chestxray.synthetic_rows(split, start, min(batch, stop - start))
            for start in range(0, stop, batch)]


def _rows_of(loader):
    """The pool rows each batch holds (every image of the test pool is distinct: its first
    pixel is its row number)."""
    return [np.asarray(x)[:, 0, 0, 0].astype(np.int64) for x, _ in loader]


@pytest.mark.parametrize("size,pool", [(29, 7), (64, 64), (5, 5), (40, 13)])
def test_in_memory_batches_shard_as_the_old_loaders_did(size, pool):
    """One loader for every synthetic DenseNet run (tasks/common/chestxray.py InMemoryBatches):
    PyTorch's replicas get exactly the rows its own InMemory gave them, TensorFlow's global
    batches are those of its own InMemory, and the replicas' batches in rank order make up the
    unsharded loader's global batches (what Flax, Keras 3 and TensorFlow train on)."""
    x = np.arange(pool, dtype=np.float32).reshape(pool, 1, 1, 1) * np.ones((1, 3, 2, 2),
                                                                           np.float32)
    labels = (np.arange(pool * 14).reshape(pool, 14) % 3 == 0).astype(np.float32)
    split = {"x": x, "labels": labels, "size": size}
    for train in (True, False):
        for world in (1, 2, 3):
            for batch in (2, 4):
                shards = []
                for rank in range(world):
                    loader = chestxray.InMemoryBatches(split, batch, train, rank, world)
                    got = _rows_of(loader)
                    assert len(loader) == len(got)  # the progress events' "of"
                    old = _old_pytorch_rows(split, batch, rank, world, train)
                    assert [r.tolist() for r in got] == [r.tolist() for r in old]
                    for (xb, yb), rows in zip(loader, old):  # the labels follow the images
                        assert np.array_equal(yb, labels[rows])
                    shards.append(got)
                globals_ = _rows_of(chestxray.InMemoryBatches(
                    split, batch * world if train else batch, train))
                old_tf = _old_tensorflow_rows(split, batch * world if train else batch, train)
                assert [r.tolist() for r in globals_] == [r.tolist() for r in old_tf]
                if train:
                    joined = [np.concatenate(parts).tolist() for parts in zip(*shards)]
                    assert joined == [r.tolist() for r in globals_]
                    assert all(len(r) == batch * world for r in globals_)
                else:  # evaluation is never sharded: every rank sees every image, in order
                    assert all([r.tolist() for r in s] == [r.tolist() for r in shards[0]]
                               for s in shards)
                    assert np.concatenate(globals_).tolist() == [i % pool for i in range(size)]


def test_in_memory_batches_convert_and_bad_rank():
    split = {"x": np.zeros((3, 1, 1, 1), np.float32), "labels": np.ones((3, 14), np.float32),
             "size": 6}
    seen = []
    batches = list(chestxray.InMemoryBatches(split, 2, True, convert=lambda a: seen.append(
        a.shape) or ("converted", a.shape)))
    assert batches[0] == (("converted", (2, 1, 1, 1)), ("converted", (2, 14)))
    assert len(batches) == 3 and len(seen) == 6
    with pytest.raises(ValueError):
        chestxray.InMemoryBatches(split, 2, True, rank=2, world=2)


def test_a_hostile_patient_id_is_one_error_not_gigabytes(tmp_path):
    """The split enumerates ids 1..highest, as 2017's did: a CSV naming Patient ID 20,000,000
    (the NIH file's highest is 30805) is refused before any list is made."""
    make_chestxray_dir(str(tmp_path), patients=3, per_patient=1, size=16)
    csv = tmp_path / chestxray.CSV_FILE
    lines = csv.read_text().splitlines()
    head = lines[0].split(",")
    cells = lines[1].split(",")
    cells[head.index("Patient ID")] = "20000000"
    csv.write_text("\n".join([lines[0], ",".join(cells)] + lines[2:]) + "\n")
    with pytest.raises(DataError) as e:
        chestxray.load_index(str(tmp_path), P)
    assert "Patient ID 20000000 is beyond any ChestX-ray14 label file" in str(e.value)


@pytest.mark.parametrize("row, said", [
    ("../../../etc/passwd,Mass,0,1,30,M,PA,1,1,0.1,0.1,", "line 2: Image Index '../../../etc/passwd' "
                                                          "is not a file name inside images/"),
    ("..,Mass,0,1,30,M,PA,1,1,0.1,0.1,", "line 2: Image Index '..' is not a file name"),
    ("x.png,Mass", "line 2: 2 field(s), the header has 12"),
    ("x.png,Mass,0,1,30,M,PA,1,1,0.1,0.1,,extra", "line 2: 13 field(s), the header has 12"),
    ("x.png,Mass,0,one,30,M,PA,1,1,0.1,0.1,", "line 2: invalid literal for int()"),
])
def test_a_bad_label_row_names_the_file_and_line(tmp_path, row, said):
    """No path from the label file is ever opened, and a short, long or non-numeric row is one
    DataError naming the file and line (not a bare TypeError)."""
    path = tmp_path / "Data_Entry_2017.csv"
    path.write_text(CHESTXRAY_HEADER + "\n" + row + "\n")
    with pytest.raises(DataError) as e:
        chestxray.read_entries(str(tmp_path))
    assert str(e.value).startswith("%s %s" % (path, said)), str(e.value)


def test_a_byte_order_mark_is_read_and_bad_bytes_are_one_line(tmp_path):
    make_chestxray_dir(str(tmp_path), patients=2, per_patient=1, size=8)
    path = tmp_path / "Data_Entry_2017.csv"
    text = path.read_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + text)  # as a spreadsheet saves UTF-8
    assert [e[0] for e in chestxray.read_entries(str(tmp_path))] == [
        "00000001_000.png", "00000002_000.png"]
    path.write_bytes(text + b"\xff\xfe,Mass,0,3,30,M,PA,1,1,0.1,0.1,\n")
    with pytest.raises(DataError) as e:
        chestxray.read_entries(str(tmp_path))
    assert str(e.value).startswith("%s line 4: not UTF-8 text" % path), str(e.value)
