"""Reference hyper-parameters: the one place they are written down.

Source: the 2017 DeepLearningFrameworks benchmark (Ilia Karmanov), common/params.py and
common/params_lstm.py of that repository, and the notebooks' model definitions. Every adapter
reads its numbers from here; run.py may override epochs (and limit data) for quick runs, and the
result records what was actually used.
"""

# VGG-style CNN on CIFAR-10 (the 2017 CNN notebooks).
CNN = {
    "epochs": 10,
    "batch_size": 64,
    "lr": 0.01,
    "momentum": 0.9,
    "n_classes": 10,
    "channels": 3,
    "height": 32,
    "width": 32,
    "conv1_filters": 50,   # conv3x3(50) relu conv3x3(50) maxpool2 relu dropout .25
    "conv2_filters": 100,  # conv3x3(100) relu conv3x3(100) maxpool2 relu dropout .25
    "kernel": 3,
    "pool": 2,
    "dense_units": 512,    # dense 512 relu dropout .5, dense 10
    "dropout_conv": 0.25,
    "dropout_dense": 0.5,
    "parameters": 3441592,  # every adapter asserts its model has exactly this many
}

# GRU sentiment classifier on IMDB (the 2017 RNN notebooks, Keras preprocessing).
RNN = {
    "epochs": 3,
    "batch_size": 64,
    "lr": 0.001,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "n_classes": 2,
    "max_features": 30000,  # vocabulary (embedding rows)
    "maxlen": 150,          # keep the last 150 tokens, zero-pad at the END (2017 utils)
    "embedding": 125,
    "hidden": 100,
    "start_char": 1,
    "oov_char": 2,
    "index_from": 3,
    # No single parameter count: embedding 3,750,000 + dense 202 everywhere, but the GRU has
    # 67,800 weights with one bias vector (old Keras) and 68,100 with two (cuDNN form, PyTorch,
    # Keras reset_after=True). The result records each framework's own count.
}

# ResNet-50 feature extraction (the 2017 inference notebooks).
INFERENCE = {
    "batch_size": 32,
    "batches": 40,
    "channels": 3,
    "height": 224,
    "width": 224,
    "features": 2048,       # ResNet-50 cut after global average pooling
}

TASKS = ("cnn", "rnn", "inference")  # the tasks, in report order: the one place they are listed
BY_TASK = {"cnn": CNN, "rnn": RNN, "inference": INFERENCE}


def for_task(task, epochs=None):
    """A fresh copy of the task's parameters, with an optional epochs override."""
    p = dict(BY_TASK[task])
    if epochs is not None and "epochs" in p:
        p["epochs"] = int(epochs)
    return p
