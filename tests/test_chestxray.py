"""tasks/common/chestxray.py on the host (numpy only): the NIH label file read from a generated
folder of real PNGs and a CSV in the release's format, 2017's label order and patient-wise
split, the synthetic stand-in, and the mean ROC AUC against hand computations."""
import os
import sys

import numpy as np
import pytest

from datagen import CHESTXRAY_HEADER, make_chestxray_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tasks"))

from common import chestxray, params  # noqa: E402
from common.data import DataError  # noqa: E402

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
