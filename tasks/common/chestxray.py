"""NIH ChestX-ray14 for the DenseNet-121 task: the label file, the patient-wise split, synthetic
stand-ins and the mean ROC AUC. Framework-free (Python 3.5 + numpy): decoding, resizing,
cropping and flipping happen in each framework's own data loader (tasks/densenet/<adapter>.py),
which is what the 2017 real-data table measures.

The real layout (the NIH release, as 2017's notebooks/common/utils.py read it):
  DIR/Data_Entry_2017.csv   columns "Image Index", "Finding Labels" ('|'-separated, or
                            "No Finding"), "Follow-up #", "Patient ID", "Patient Age", ...
  DIR/images/<Image Index>  the 112,120 PNGs (1024x1024 8-bit grey in the NIH release; 2017
                            overwrote them with 264x264 RGB copies, utils.resize_im)
  DIR/images-264/           those copies, made beside the originals by `dlbench data prepare
                            chestxray14` (tasks/prepare_chestxray.py), with manifest.json

Which images a run reads (input_for, the one place that decides): the prepared copies when
DIR/images-<p["resize"]>/manifest.json says they are complete, at that size; the loaders then
only decode, crop and flip a training image (2017's loaders on its 264x264 copies). Else the
originals, and each training image is resized to p["resize"] as it is read (a heavier loader
than 2017's: a real-data time of such a run is not comparable with 2017's minutes; the result
says which in data.images, the report marks the row).

Labels: 2017's get_imgloc_labels one-hot encodes "Finding Labels" with pandas get_dummies
(columns in sorted order) and drops "No Finding": LABELS below, in that order.

Split: get_train_valid_test_split(TOT_PATIENT_NUMBER=30805) splits the patient ids 1..30805 IN
ORDER (sklearn train_test_split, shuffle=False) into 70% train, 10% valid, 20% test; sklearn
rounds the second part up (ceil) and the first down: 21563 / 3080 / 6162 patients, 87306 /
7616 / 17198 images (the notebooks print these). patient_split() repeats that arithmetic.
"""
from __future__ import absolute_import, division, print_function
import csv
import hashlib
import io
import json
import math
import os

import numpy as np

from common.datafiles import DataError, arrays_sha256, file_sha256

CSV_FILE = "Data_Entry_2017.csv"
IMAGE_FOLDER = "images"
PREPARED_FOLDER = "images-%d"  # % size: the copies tasks/prepare_chestxray.py makes
MANIFEST = "manifest.json"
NO_FINDING = "No Finding"
# sorted, as pandas get_dummies ordered 2017's label columns ("No Finding" dropped)
LABELS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema",
          "Fibrosis", "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening",
          "Pneumonia", "Pneumothorax")
COLUMNS = ("Image Index", "Finding Labels", "Patient ID")
SPLITS = ("train", "valid", "test")


def multi_hot(findings):
    """'Effusion|Mass' -> float32 (14,) with ones at those labels; 'No Finding' -> zeros."""
    y = np.zeros(len(LABELS), dtype=np.float32)
    for name in findings.split("|"):
        name = name.strip()
        if not name or name == NO_FINDING:
            continue
        if name not in LABELS:
            raise ValueError("unknown finding %r (known: %s, %s)"
                             % (name, ", ".join(LABELS), NO_FINDING))
        y[LABELS.index(name)] = 1.0
    return y


def image_name(text):
    """An "Image Index" as a file name inside images/: a plain name, never a path (a label file
    naming ../../etc/passwd would have the loaders open it); else ValueError."""
    name = text.strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError("Image Index %r is not a file name inside %s/" % (text, IMAGE_FOLDER))
    return name


def read_entries(root):
    """[(image file name, multi-hot labels, patient id)] from DIR/Data_Entry_2017.csv (UTF-8,
    with or without a byte-order mark). Every problem is one DataError naming the file and,
    for a row, its line."""
    path = os.path.join(root, CSV_FILE)
    if not os.path.isfile(path):
        raise DataError("no ChestX-ray14 label file %s: run 'dlbench data fetch chestxray14' "
                        "(or give --data-dir with %s and %s/), or pass --synthetic"
                        % (path, CSV_FILE, IMAGE_FOLDER))
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (as spreadsheets save) is dropped
    except UnicodeDecodeError as e:
        raise DataError("%s line %d: not UTF-8 text (%s): fix or re-fetch the file"
                        % (path, raw[:e.start].count(b"\n") + 1, e.reason))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    entries = []
    try:
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError("%s lacks the column(s) %s: not the NIH Data_Entry_2017.csv"
                            % (path, ", ".join(repr(c) for c in missing)))
        for row in reader:
            try:
                if None in row or None in row.values():  # a row longer or shorter
                    raise ValueError("%d field(s), the header has %d" % (
                        len([k for k, v in row.items() if k is not None and v is not None])
                        + len(row.get(None) or ()), len(reader.fieldnames)))
                entries.append((image_name(row["Image Index"]),
                                multi_hot(row["Finding Labels"]), int(row["Patient ID"])))
            except ValueError as e:
                raise DataError("%s line %d: %s: fix or re-fetch the file"
                                % (path, reader.line_num, e))
    except csv.Error as e:
        raise DataError("%s line %d: %s: fix or re-fetch the file" % (path, reader.line_num, e))
    if not entries:
        raise DataError("%s holds no images" % path)
    return entries


def _first_part(ids, first, second):
    """sklearn.model_selection.train_test_split(ids, train_size=first, test_size=second,
    shuffle=False): floor for the first part, ceil for the second, in order."""
    n = len(ids)
    n_second = int(math.ceil(second * n))
    n_first = int(math.floor(first * n))
    return ids[:n_first], ids[n_first:n_first + n_second]


# the split enumerates ids 1..highest (2017's TOT_PATIENT_NUMBER = 30805): a bound far above the
# NIH file's keeps a hostile CSV (Patient ID 20,000,000: 1 GB of lists) from exhausting memory
MAX_PATIENT_ID = 1000000


def patient_split(n_patients, fractions=(0.7, 0.1, 0.2)):
    """The patient ids 1..n of each split, as 2017's get_train_valid_test_split made them."""
    train, valid, test = fractions
    other = valid + test  # 0.30000000000000004 in floating point, as 2017 computed it
    ids = list(range(1, n_patients + 1))
    train_ids, other_ids = _first_part(ids, train, other)
    valid_ids, test_ids = _first_part(other_ids, valid / other, test / other)
    return train_ids, valid_ids, test_ids


def prepared_manifest(root, size):
    """(manifest dict, its sha256) of DIR/images-<size>/ when its manifest says the copies are
    complete and size x size RGB; else (None, why not)."""
    folder = os.path.join(root, PREPARED_FOLDER % size)
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None, ("no prepared %dx%d copies (%s): 'dlbench data prepare chestxray14' makes "
                      "them" % (size, size, os.path.basename(folder) + "/" + MANIFEST))
    try:
        with open(path, "rb") as f:
            raw = f.read()
        manifest = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as e:
        return None, "%s is unreadable (%s): run 'dlbench data prepare chestxray14' again" % (
            path, e)
    if not isinstance(manifest, dict) or not manifest.get("complete") or \
            manifest.get("size") != [size, size] or manifest.get("mode") != "RGB":
        return None, ("%s does not describe complete %dx%d RGB copies: run 'dlbench data "
                      "prepare chestxray14' again" % (path, size, size))
    return manifest, hashlib.sha256(raw).hexdigest()


def input_for(root, p):
    """Which images a real-data run reads (see the module doc): (folder, record for
    result.data.images). The record says "prepared" (with the manifest's checksum, the
    originals' checksum set, the method) or "originals" (resized on every read, and why)."""
    size = p["resize"]
    manifest, digest = prepared_manifest(root, size)
    if manifest is None:
        return os.path.join(root, IMAGE_FOLDER), {
            "read": "originals", "folder": IMAGE_FOLDER, "resize_on_read": size, "why": digest}
    return os.path.join(root, PREPARED_FOLDER % size), {
        "read": "prepared", "folder": PREPARED_FOLDER % size, "resize_on_read": None,
        "size": size, "manifest_sha256": digest, "count": manifest.get("count"),
        "sources_sha256": manifest.get("sources_sha256"), "method": manifest.get("method"),
        "pillow": manifest.get("pillow")}


def train_resize(split, p):
    """The size a training image is resized to as the loader reads it: p["resize"] for the
    originals, None for prepared copies (already that size: decode, crop and flip only)."""
    return None if split.get("prepared") else p["resize"]


def load_index(root, p, limit=None):
    """The real data: for each split the image paths and their (N, 14) float32 labels, split by
    patient. Every image file must exist. limit keeps the first N images of each split.
    The patient count is the CSV's highest Patient ID (30805 in the NIH file, 2017's
    TOT_PATIENT_NUMBER; a smaller generated or subset file splits its own ids the same way)."""
    entries = read_entries(root)
    n_patients = max(e[2] for e in entries)
    if n_patients > MAX_PATIENT_ID:  # the split lists ids 1..n: a hostile id would take GBs
        raise DataError("%s: Patient ID %d is beyond any ChestX-ray14 label file (the NIH "
                        "file's highest is 30805; at most %d taken)"
                        % (os.path.join(root, CSV_FILE), n_patients, MAX_PATIENT_ID))
    ids = patient_split(n_patients, p["split"])
    which = {}
    for name, part in zip(SPLITS, ids):
        for pid in part:
            which[pid] = name
    folder, images = input_for(root, p)
    out = {}
    missing = []
    for name in SPLITS:
        rows = [e for e in entries if which.get(e[2]) == name]
        if limit is not None:
            rows = rows[:limit]
        paths = [os.path.join(folder, e[0]) for e in rows]
        missing.extend(path for path in paths if not os.path.isfile(path))
        out[name] = {"paths": paths,
                     "labels": (np.stack([e[1] for e in rows]) if rows
                                else np.zeros((0, len(LABELS)), np.float32)),
                     "patients": np.asarray([e[2] for e in rows], dtype=np.int64),
                     "prepared": images["read"] == "prepared"}
    if missing:
        raise DataError("%d image(s) of %s are missing under %s (first: %s): %s"
                        % (len(missing), CSV_FILE, folder, os.path.basename(missing[0]),
                           "run 'dlbench data prepare chestxray14' again"
                           if images["read"] == "prepared" else
                           "fetch the images again or give the folder that holds them"))
    csv_path = os.path.join(root, CSV_FILE)
    meta = {"source": "real", "dataset": "chestxray14 (NIH)", "path": root,
            "file_sha256": file_sha256(csv_path), "limited": limit,
            "patients": n_patients,
            "sizes": dict((k, len(out[k]["paths"])) for k in SPLITS),
            "sha256": arrays_sha256(*[out[k]["labels"] for k in SPLITS]),
            "images": images}
    return out, meta


def synthetic(p, seed, limit=None, layout="NCHW"):
    """Images in RAM, as 2017's synthetic table (random float32 images, no loader, no
    augmentation). 2017 held all 87,296 images (52 GB); here a pool of p["synthetic_pool"]
    distinct random images is held and cycled: the loader serves image i from pool row
    i % pool, so an epoch has 2017's number of images. Labels are multi-hot, drawn per pool
    image; the test split is the pool itself (its AUC is a sanity figure, nothing more). No
    validation pass (2017's synthetic runs had none). Synthetic: every result says so."""
    rng = np.random.RandomState(seed)
    n_train = p["train_images"] if limit is None else min(p["train_images"], limit)
    pool = min(p["synthetic_pool"], n_train)
    shape = (pool, p["channels"], p["height"], p["width"])
    if layout == "NHWC":
        shape = (pool, p["height"], p["width"], p["channels"])
    x = rng.standard_normal(shape).astype(np.float32)  # already "normalised" pixels
    labels = (rng.rand(pool, p["n_classes"]) < 0.2).astype(np.float32)
    train = {"x": x, "labels": labels, "size": n_train}
    test = {"x": x, "labels": labels, "size": pool}
    meta = {"source": "synthetic", "dataset": "chestxray14-shaped synthetic (seed %d)" % seed,
            "path": None, "file_sha256": None, "limited": limit, "pool": pool,
            "sizes": {"train": n_train, "valid": 0, "test": pool},
            "sha256": arrays_sha256(x, labels)}
    return {"train": train, "valid": None, "test": test}, meta


def synthetic_rows(split, start, count):
    """The pool rows of images start .. start+count-1 of a synthetic split (cycled)."""
    return (np.arange(start, start + count) % len(split["x"])).astype(np.int64)


class InMemoryBatches(object):
    """Synthetic mode's loader where the framework needs none of its own: the images stay in
    RAM (2017's synthetic table); one pass = complete batches for training, every image else.

    Training with `world` replicas that each take their own batch (PyTorch's processes): batch
    is the per-replica batch, global batch g is images g*G .. g*G+G-1 (G = batch * world,
    cycled over the pool, complete global batches only) and this replica (`rank`) gets images
    g*G + rank*batch .. +batch-1: the replicas' batches, in rank order, are the global batch the
    unsharded loader (world 1, batch G: Flax, Keras 3, TensorFlow) yields. Evaluation is never
    sharded (rank 0 predicts every image). convert (e.g. torch.from_numpy) is applied to the
    images and the labels of each batch; numpy arrays without it."""

    def __init__(self, split, batch, train, rank=0, world=1, convert=None):
        if not 0 <= rank < world:
            raise ValueError("replica %d of %d" % (rank, world))
        self.split, self.batch, self.train = split, batch, train
        self.rank, self.world = (rank, world) if train else (0, 1)
        self.convert = convert

    def _span(self):
        """(images one pass covers, images per step across the replicas)."""
        step = self.batch * self.world
        return (self.split["size"] // step * step if self.train else self.split["size"]), step

    def __len__(self):
        n, step = self._span()
        return (n + step - 1) // step

    def __iter__(self):
        n, step = self._span()
        for start in range(0, n, step):
            rows = synthetic_rows(self.split, start + self.rank * self.batch,
                                  min(self.batch, n - start))
            x, y = self.split["x"][rows], self.split["labels"][rows]
            if self.convert is not None:
                x, y = self.convert(x), self.convert(y)
            yield x, y


def roc_auc(y_true, y_score):
    """ROC AUC of one label, rank-based (Mann-Whitney U): the probability that a random
    positive scores above a random negative, ties counted half. None when the labels hold one
    class only (the AUC is undefined there; sklearn's roc_auc_score raises)."""
    y_true = np.asarray(y_true).astype(bool).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(y_score, kind="mergesort")
    sorted_scores = y_score[order]
    ranks = np.empty(len(y_score), dtype=np.float64)
    # average ranks (1-based) over runs of tied scores
    starts = np.concatenate(([0], np.nonzero(np.diff(sorted_scores))[0] + 1))
    ends = np.concatenate((starts[1:], [len(sorted_scores)]))
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    u = ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def mean_auc(y_true, y_score):
    """(mean AUC over the labels that have both classes in y_true, per-label AUCs with None for
    a label with one class only). 2017's compute_roc_auc averaged all 14 (every label has both
    classes in the real test split, 17,198 images); a small or synthetic split may lack a
    class: such a label is left out of the mean and listed as None. The mean is None when no
    label has both classes."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise ValueError("labels %s and scores %s: expected the same (N, labels) shape"
                         % (y_true.shape, y_score.shape))
    per_label = [roc_auc(y_true[:, i], y_score[:, i]) for i in range(y_true.shape[1])]
    defined = [a for a in per_label if a is not None]
    return (float(np.mean(defined)) if defined else None), per_label


def bce(y_true, y_prob, eps=1e-7):
    """Mean binary cross-entropy of probabilities (the validation loss 2017 printed)."""
    y_prob = np.clip(np.asarray(y_prob, dtype=np.float64), eps, 1 - eps)
    y_true = np.asarray(y_true, dtype=np.float64)
    return float(-np.mean(y_true * np.log(y_prob) + (1 - y_true) * np.log(1 - y_prob)))
