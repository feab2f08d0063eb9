"""Reference hyper-parameters: the one place they are written down.

Source: the 2017 DeepLearningFrameworks benchmark (Ilia Karmanov), common/params.py and
common/params_lstm.py of that repository, and the notebooks' model definitions. Every adapter
reads its numbers from here; run.py may override epochs (and limit data) for quick runs, and the
result records what was actually used.
"""
from __future__ import absolute_import, division, print_function

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

# DenseNet-121 on NIH ChestX-ray14 (the 2018 multi-GPU table, README section 2 of the 2017
# repository). Sources: notebooks/common/params_dense.py (CLASSES, WIDTH, HEIGHT, CHANNELS, LR,
# EPOCHS, BATCHSIZE, IMAGENET_RGB_MEAN/SD, TOT_PATIENT_NUMBER), notebooks/common/utils.py
# (resize_im: 264x264 bilinear RGB; get_train_valid_test_split: 0.7/0.1/0.2 of the patient ids
# 1..30805 in order, no shuffle; compute_roc_auc: mean of the 14 per-label ROC AUCs) and
# notebooks/PyTorch_MultiGPU.ipynb ("LR *= GPU_COUNT; BATCHSIZE *= GPU_COUNT", DataLoader
# num_workers=6, Adam betas 0.9/0.999).
DENSENET = {
    "epochs": 5,
    "batch_size": 64,        # per device: the global batch is batch_size * devices (2017 rule)
    "lr": 0.0001,            # per device: the global lr is lr * devices (2017 rule)
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "n_classes": 14,
    "channels": 3,
    "height": 224,           # the crop fed to the network
    "width": 224,
    "resize": 264,           # images are resized to 264x264 (utils.resize_im), then cropped
    "mean": [0.485, 0.456, 0.406],  # ImageNet RGB mean / sd on 0..1 pixels
    "sd": [0.229, 0.224, 0.225],
    "loader_workers": 6,     # DataLoader(num_workers=6) in the PyTorch notebook
    "patients": 30805,       # TOT_PATIENT_NUMBER
    "split": [0.7, 0.1, 0.2],  # train / valid / test fractions of the patient ids, in id order
    "train_images": 87306,   # 2017's train split ("Loaded 87306 labels and 87306 images")
    "growth_rate": 32,       # DenseNet-121 (Huang et al. 2017; torchvision's densenet121)
    "block_config": [6, 12, 24, 16],
    "num_init_features": 64,
    "bn_size": 4,
    "compression": 0.5,
    "bn_eps": 1e-5,
    "parameters": 6968206,   # trainable weights with the 14-class head (7,978,856 with 1000)
    "parameters_imagenet_head": 7978856,
    "synthetic_pool": 256,   # synthetic mode: distinct random images held in RAM, cycled
    "devices": 1,            # data-parallel replicas (--gpus / --workers); set by run.py
}

TASKS = ("cnn", "rnn", "inference", "densenet")  # the tasks, in report order: the one place
BY_TASK = {"cnn": CNN, "rnn": RNN, "inference": INFERENCE, "densenet": DENSENET}
# What `dlbench bench` runs when no --task is given: the 2017 benchmark's first table. DenseNet-121
# (its second table, hours per epoch on a CPU) runs when asked for by name: --task densenet.
DEFAULT_TASKS = ("cnn", "rnn", "inference")


def for_task(task, epochs=None):
    """A fresh copy of the task's parameters, with an optional epochs override."""
    p = dict(BY_TASK[task])
    if epochs is not None and "epochs" in p:
        p["epochs"] = int(epochs)
    return p


def scale_for_devices(p, devices, lr_scales=True):
    """The 2017 multi-GPU rule: the batch is multiplied by the device count, and so is the
    learning rate (PyTorch_MultiGPU, Keras_TF_, Tensorflow_, Gluon_MultiGPU: "LR *= GPU_COUNT"),
    except where the framework module says its notebook kept it (lr_scales False: Chainer).
    Records per-device and global figures in the parameters (the result keeps them)."""
    p = dict(p)
    devices = int(devices)
    p["devices"] = devices
    p["per_device_batch"] = p["batch_size"]
    p["global_batch"] = p["batch_size"] * devices
    p["global_lr"] = p["lr"] * devices if lr_scales else p["lr"]
    return p
