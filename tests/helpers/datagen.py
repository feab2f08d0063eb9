"""Small data files in the real CIFAR-10 and IMDB formats, so tests run the real loaders."""
import io
import os
import pickle
import tarfile

import numpy as np

CIFAR_BATCHES = ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]


def cifar_arrays(n, seed=0, learnable=True):
    """n images per batch file: uint8 rows of 3072 (3 colour planes of 32x32) and labels.
    learnable: dark noise, and the label decides which colour plane is bright (c % 3) and which
    band of 8 rows stays dark in it (c // 3), so a CNN can learn it. A signal over most of the
    image: PyTorch's default init (2017's) leaves a weak one on a loss plateau for hundreds of
    steps (the earlier bright band over mid-grey noise: accuracy 0.09-0.11 after 50 steps over
    three seeds); this one it learns in 75 (test accuracy 1.0 over five seeds, 0.70-0.82 after
    50; measured with tasks/run.py on the host CPU)."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 10, size=n)
    data = rng.randint(0, 16 if learnable else 128, size=(n, 3, 32, 32)).astype(np.uint8)
    if learnable:
        for i, c in enumerate(labels):
            plane, band = c % 3, slice((c // 3) * 8, (c // 3) * 8 + 8)
            data[i, plane] = 255 - data[i, plane]  # 240..255
            data[i, plane, band, :] -= 240         # back to 0..15
    return data.reshape(n, 3072), [int(c) for c in labels]


class _AnyNumpyPickler(pickle.Pickler):
    """Arrays as numpy.ndarray(shape, dtype, bytes), a global every numpy has: numpy 2 pickles
    them through numpy._core, which the numpy 1.x of older images (MXNet 1.9's 1.23, the 2017
    images' 1.14) cannot import. The official batches, pickled by an old numpy, load in both."""

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            return np.ndarray, (obj.shape, obj.dtype.str, obj.tobytes())
        return NotImplemented


def _pickle_for_any_numpy(obj):
    out = io.BytesIO()
    _AnyNumpyPickler(out, protocol=2).dump(obj)
    return out.getvalue()


def make_cifar_tarball(path, n=64, seed=0, learnable=True, py2_bytes_keys=True):
    """A cifar-10-python.tar.gz with five train batches and a test batch of n images each,
    pickled the way the official file is (dict with b'data', b'labels')."""
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate(CIFAR_BATCHES):
            data, labels = cifar_arrays(n, seed + k, learnable)
            batch = ({b"batch_label": name.encode(), b"data": data, b"labels": labels}
                     if py2_bytes_keys else {"data": data, "labels": labels})
            blob = _pickle_for_any_numpy(batch)
            info = tarfile.TarInfo("cifar-10-batches-py/" + name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def imdb_sequences(n, seed=0, vocab=40000, min_len=5, max_len=300):
    """Ragged lists of raw word indices (1-based frequency ranks) and 0/1 labels."""
    rng = np.random.RandomState(seed)
    seqs = np.empty(n, dtype=object)
    for i in range(n):
        seqs[i] = [int(w) for w in rng.randint(1, vocab, size=rng.randint(min_len, max_len))]
    return seqs, rng.randint(0, 2, size=n).astype(np.int64)


def make_imdb_npz(path, n=64, seed=0):
    """An imdb.npz like the Keras file: x_train/x_test object arrays of int lists."""
    x_train, y_train = imdb_sequences(n, seed)
    x_test, y_test = imdb_sequences(n, seed + 1)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def make_data_dir(folder, n=64, seed=0):
    os.makedirs(folder, exist_ok=True)
    make_cifar_tarball(os.path.join(folder, "cifar-10-python.tar.gz"), n, seed)
    make_imdb_npz(os.path.join(folder, "imdb.npz"), n, seed)
    return folder


# ---------------------------------------------------------------- ChestX-ray14

# the header of the NIH Data_Entry_2017.csv as released (the bracketed names hold commas, so a
# CSV reader sees "OriginalImage[Width" and "Height]" as two columns; a trailing comma too)
CHESTXRAY_HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,"
                    "Patient Gender,View Position,OriginalImage[Width,Height],"
                    "OriginalImagePixelSpacing[x,y],")
CHESTXRAY_FINDINGS = ["No Finding", "Cardiomegaly", "Effusion|Mass", "Infiltration",
                      "Atelectasis|Effusion|Pneumothorax", "Nodule", "Hernia", "Edema|Pneumonia",
                      "Consolidation", "Emphysema|Fibrosis", "Pleural_Thickening", "No Finding"]


def png_bytes(pixels):
    """A PNG file written by hand (zlib + the PNG chunk format): pixels is uint8 (H, W) grey
    (colour type 0) or (H, W, 4) RGBA (colour type 6; a few NIH images are RGBA)."""
    import struct
    import zlib
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = pixels.shape[:2]
    colour = 0 if pixels.ndim == 2 else {3: 2, 4: 6}[pixels.shape[2]]
    rows = pixels.reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))  # filter type 0 per row

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def make_chestxray_dir(folder, patients=10, per_patient=2, size=64, seed=0, rgba_every=5):
    """A small ChestX-ray14 copy in the real layout: folder/Data_Entry_2017.csv (the NIH
    columns) and folder/images/<patient>_<follow-up>.png (real PNGs, grey, every rgba_every-th
    RGBA). Patient ids 1..patients, per_patient images each. Returns the rows written as
    (image, findings, patient)."""
    rng = np.random.RandomState(seed)
    images = os.path.join(folder, "images")
    os.makedirs(images, exist_ok=True)
    rows, k = [], 0
    for pid in range(1, patients + 1):
        for follow in range(per_patient):
            name = "%08d_%03d.png" % (pid, follow)
            findings = CHESTXRAY_FINDINGS[k % len(CHESTXRAY_FINDINGS)]
            grey = rng.randint(0, 256, size=(size, size)).astype(np.uint8)
            if rgba_every and k % rgba_every == rgba_every - 1:
                pixels = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
            else:
                pixels = grey
            with open(os.path.join(images, name), "wb") as f:
                f.write(png_bytes(pixels))
            rows.append((name, findings, pid))
            k += 1
    with open(os.path.join(folder, "Data_Entry_2017.csv"), "w") as f:
        f.write(CHESTXRAY_HEADER + "\n")
        for i, (name, findings, pid) in enumerate(rows):
            f.write("%s,%s,%d,%d,%d,%s,PA,2500,2048,0.143,0.143,\n"
                    % (name, findings, i % 3, pid, 30 + pid % 50, "MF"[pid % 2]))
    return rows
