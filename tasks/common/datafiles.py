"""What every dataset reader shares: the error that says what to do, and the checksums a result
records (of the file read and of the exact arrays fed to the model). Python 3.5 and 2.7, numpy
only."""
from __future__ import absolute_import, division, print_function
import hashlib

import numpy as np


class DataError(Exception):
    """A dataset is missing or unreadable; the message says what to do."""


def file_sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def arrays_sha256(*arrays):
    """Checksum of the exact arrays fed to the model (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode("ascii"))
        h.update(str(a.shape).encode("ascii"))
        h.update(a.tobytes())
    return h.hexdigest()
