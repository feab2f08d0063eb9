"""Minibatches: complete batches only, reshuffled every epoch from a seeded generator."""
from __future__ import absolute_import, division, print_function
import numpy as np


def n_batches(n_examples, batch_size):
    return n_examples // batch_size


def minibatches(x, y, batch_size, rng, shuffle=True):
    """Yield (x, y) views of complete batches; the tail that does not fill a batch is dropped."""
    n = len(x)
    order = rng.permutation(n) if shuffle else np.arange(n)
    for i in range(n_batches(n, batch_size)):
        idx = order[i * batch_size:(i + 1) * batch_size]
        yield x[idx], y[idx]


def epoch_arrays(x, y, batch_size, rng):
    """The epoch minibatches() would yield, as two arrays in that order (the same permutation
    drawn from rng): what an adapter whose framework runs the epoch's batch loop itself
    (train_epoch: 2017's Keras fit) is handed."""
    n = n_batches(len(x), batch_size) * batch_size
    idx = rng.permutation(len(x))[:n]
    return x[idx], y[idx]


def batches_in_order(x, batch_size):
    """Complete batches of x in order (evaluation and inference)."""
    for i in range(n_batches(len(x), batch_size)):
        yield x[i * batch_size:(i + 1) * batch_size]
