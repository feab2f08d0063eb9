"""Result files for the report tests: several frameworks, repeats, failed runs, a synthetic
partial run, a run with no 2017 counterpart, two devices (a GPU and a CPU), and two files that
cannot be used. Every file but the two broken ones follows tasks/runtime/result.schema.json at
the current schema version (the tests check that too), laid out as the harness writes them:
results/<run_id>/<image>/<task>[-<variant>]-r<repeat>/result.json."""
import hashlib
import json
import os

GPU = "NVIDIA H100 80GB HBM3"
CPU = "AMD EPYC 9654 96-Core Processor"
RUN = "20261128-120000-abcd"

ADAPTER = {"pytorch-2.13": "pytorch", "tensorflow-2.21": "tensorflow", "keras-3.15": "keras3",
           "flax-0.12": "flax"}
FRAMEWORK = {"pytorch": "pytorch", "tensorflow": "tensorflow", "keras3": "keras", "flax": "flax"}
PARAMS = {
    "cnn": {"epochs": 10, "batch_size": 64, "lr": 0.01, "momentum": 0.9, "n_classes": 10},
    "rnn": {"epochs": 3, "batch_size": 64, "lr": 0.001, "n_classes": 2},
    "inference": {"batch_size": 32, "batches": 40, "features": 2048},
}
TRAIN = {"cnn": 50000, "rnn": 25000}
# the model's weight count each run records (tasks/run.py): the CNN's everywhere, the RNN's in
# the two-bias GRU convention, each inference adapter's declared ResNet-50 count
WEIGHTS = {"cnn": dict.fromkeys(ADAPTER.values(), 3441592),
           "rnn": dict.fromkeys(ADAPTER.values(), 3750202 + 68100),
           "inference": {"pytorch": 23561152, "tensorflow": 23561152, "keras3": 23587712,
                         "flax": 23561152}}
NETWORK = {"pytorch": "torchvision resnet50 structure, fc removed",
           "tensorflow": "TF-slim resnet_v1_50 (num_classes=None), plain TF",
           "keras3": "keras.applications.ResNet50(include_top=False, pooling='avg')",
           "flax": "torchvision resnet50 structure, fc removed"}


def result(image, task, seconds=None, variant="reference", device="gpu", repeat=1,
           source=None, epochs=None, limit=None, accuracy=None, status="ok", reason=None,
           probed=True, run_id=None):
    """One collected result as the harness writes it; the CPU runs are another bench (their
    own run id) beside the GPU ones."""
    if run_id is None:
        run_id = RUN if device == "gpu" else RUN + "-cpu"
    adapter = ADAPTER[image]
    params = dict(PARAMS[task])
    if epochs is not None:
        params["epochs"] = epochs
    if source is None:
        source = "synthetic" if task == "inference" else "real"
    n_train = limit or TRAIN.get(task, 0)
    timings, metrics = {}, {}
    if status == "ok":
        if task == "inference":
            images = limit or 1280
            timings = {"seconds_per_1000_images": seconds, "images_per_second": 1000.0 / seconds,
                       "batches": images // 32, "eval_seconds": seconds * images / 1000.0}
            metrics = {"features": 2048, "test_accuracy": None}
        else:
            ep = params["epochs"]
            timings = {"train_seconds": seconds, "epoch_seconds": [seconds / ep] * ep,
                       "images_per_second": ep * (n_train // 64) * 64 / seconds,
                       "eval_seconds": 1.0}
            metrics = {"test_accuracy": accuracy, "final_loss": 0.5}
    env = {"python": "3.11.2", "numpy": "2.4.6"}
    if probed:
        env.update({"framework_version": {"pytorch": "2.13.0", "tensorflow": "2.21.0",
                                          "keras3": "3.15.0", "flax": "0.12.0"}[adapter],
                    "cuda": "12.8" if device == "gpu" else None,
                    "cudnn": "9.10.2" if device == "gpu" else None,
                    "gpu": GPU if device == "gpu" else None,
                    "cpu": CPU, "cpu_count": 16})
        if task == "inference":
            env["adapter_settings"] = {"layout": "NHWC", "network": NETWORK[adapter]}
    data = {"source": source, "limited": limit,
            "dataset": "synthetic" if source == "synthetic" else "cifar-10"}
    if limit:
        data["sizes"] = {"train": limit, "test": limit} if task != "inference" else {"images": limit}
    doc = {
        "schema_version": 2, "task": task, "framework": FRAMEWORK[adapter], "adapter": adapter,
        "variant": variant, "image": image, "status": status, "reason": reason,
        "exit_code": 0 if status == "ok" else 1, "device": device,
        "params": params if probed else {}, "data": data,
        "model": {"parameters": WEIGHTS[task][adapter] if probed else None},
        "env": env, "timings": timings, "metrics": metrics,
        "started": "2026-11-28T12:%02d:00Z" % repeat, "finished": "2026-11-28T12:%02d:59Z" % repeat,
        "provenance": {"image": image, "image_id": "sha256:" + hashlib.sha256(image.encode()).hexdigest(),
                       "image_digest": None, "dockerfile_sha256": "d" * 64,
                       "pip_freeze": ["numpy==2.4.6"], "host": "bench-host",
                       "docker_version": "26.1.5", "gpu_driver": "570.86" if device == "gpu" else None,
                       "repeat": repeat, "run_id": run_id},
    }
    return doc


def host_path(root, doc):
    """Where the host writes doc's result: ROOT/<run_id>/<image>/<run folder>/result.json (as
    its provenance says; `dlbench results` counts a result only there)."""
    from harness.results import results
    prov = doc["provenance"]
    return os.path.join(str(root), prov["run_id"], prov["image"],
                        results.run_folder(doc["task"], doc["variant"], prov["repeat"]),
                        "result.json")


def write(root, doc):
    path = host_path(root, doc)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path


def make_results(root):
    """Write the scenario; returns the list of result documents written (broken ones aside)."""
    docs = []
    # CNN on the GPU: pytorch clearly fastest (ranges apart), tensorflow and keras/jax overlap
    for r, s in enumerate((40.0, 41.0, 42.0), 1):
        docs.append(result("pytorch-2.13", "cnn", s, repeat=r, accuracy=0.77 + r / 1000.0))
    for r, s in enumerate((60.0, 61.0, 62.0), 1):
        docs.append(result("tensorflow-2.21", "cnn", s, repeat=r, accuracy=0.76))
    for r, s in enumerate((61.5, 62.5, 63.0), 1):
        docs.append(result("keras-3.15", "cnn", s, variant="jax", repeat=r, accuracy=0.75))
    # Keras on TensorFlow: two good repeats and one out of memory
    docs.append(result("keras-3.15", "cnn", 80.0, variant="tensorflow", repeat=1, accuracy=0.75))
    docs.append(result("keras-3.15", "cnn", 82.0, variant="tensorflow", repeat=2, accuracy=0.76))
    docs.append(result("keras-3.15", "cnn", variant="tensorflow", repeat=3, status="failed",
                       reason="CUDA out of memory while allocating 2.0 GiB"))
    # CNN on the CPU: a synthetic partial pytorch run (2 repeats), a full real flax run (no
    # 2017 counterpart), and a tensorflow run that timed out before probing anything
    for r, s in enumerate((30.0, 31.0), 1):
        docs.append(result("pytorch-2.13", "cnn", s, device="cpu", repeat=r, source="synthetic",
                           epochs=2, limit=640, accuracy=0.1))
    docs.append(result("flax-0.12", "cnn", 2400.0, device="cpu", accuracy=0.78))
    docs.append(result("tensorflow-2.21", "cnn", device="cpu", status="failed", probed=False,
                       reason="timed out after 3600 s"))
    # RNN on the GPU
    for r, s in enumerate((20.0, 20.5), 1):
        docs.append(result("pytorch-2.13", "rnn", s, repeat=r, accuracy=0.86))
    for r, s in enumerate((25.0, 25.5), 1):
        docs.append(result("tensorflow-2.21", "rnn", s, repeat=r, accuracy=0.85))
    # inference on both devices
    for r, s in enumerate((1.1, 1.2, 1.3), 1):
        docs.append(result("pytorch-2.13", "inference", s, repeat=r))
    docs.append(result("pytorch-2.13", "inference", 95.0, device="cpu", limit=256))
    for doc in docs:
        write(root, doc)
    # two files the report cannot use
    bad = os.path.join(root, RUN, "broken", "cnn-r1")
    os.makedirs(bad)
    with open(os.path.join(bad, "result.json"), "w") as f:
        f.write('{"task": "cnn", "status": ')
    invalid = os.path.join(root, RUN, "invalid", "rnn-r1")
    os.makedirs(invalid)
    with open(os.path.join(invalid, "result.json"), "w") as f:
        json.dump({"schema_version": 2, "task": "rnn", "status": "ok",
                   "timings": {"train_seconds": 1.0}}, f)
    return docs
