"""Loader-only throughput of a DenseNet task file (a script, not a test): the images/s its
training loader (tasks/densenet/<adapter>.py make_loader) delivers, no model, no training step,
on the ChestX-ray14 layout mounted at /data: the prepared 264x264 copies when /data holds a
complete images-264/ (decode, crop 224, flip), else the 1024 px originals resized on every read
(tasks/common/chestxray.py input_for decides, as in a run). Prints one JSON line.

    # originals only: mount the CSV and images/ without images-264/
    docker run --rm --network none --shm-size 2g -v "$PWD":/src:ro \\
        -v DIR/Data_Entry_2017.csv:/data/Data_Entry_2017.csv:ro -v DIR/images:/data/images:ro \\
        dlbench/pytorch-2.13 python3 /src/bench/densenet_loader.py --adapter pytorch
    # the prepared copies: mount DIR itself (images-264/ made by `dlbench data prepare`)
    docker run ... -v DIR:/data:ro dlbench/tensorflow-2.21 \\
        python3 /src/bench/densenet_loader.py --adapter tensorflow

--passes N passes over the training split after one untimed warm-up pass (worker start-up,
tf.data's graph); each pass's images/s and their median. Batches of --batch (default 16, so a
small folder gives several), --workers loader workers (default: the task's 6, at most the CPUs).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tasks"))

from common import chestxray, params  # noqa: E402
from runtime import adapters  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--variant", default="reference")
    ap.add_argument("--data", default="/data")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int)
    args = ap.parse_args()
    fw, task, _ = adapters.start("densenet", args.adapter, args.variant, "cpu", 0)
    p = params.scale_for_devices(dict(params.for_task("densenet"), batch_size=args.batch), 1)
    cpus = len(os.sched_getaffinity(0))
    p["loader_workers"] = args.workers or max(1, min(p["loader_workers"], cpus))
    dist = task.start_devices(p, 0)
    splits, meta = chestxray.load_index(args.data, p)
    loader = task.make_loader(splits["train"], p, dist, True, 0)
    rates, shape = [], None
    for i in range(args.passes + 1):
        n, start = 0, time.perf_counter()
        for x, _ in loader:
            shape = tuple(int(d) for d in x.shape)
            n += shape[0]
        seconds = time.perf_counter() - start
        if i:  # pass 0 starts the workers: not counted
            rates.append(n / seconds)
    print(json.dumps({"adapter": args.adapter, "read": meta["images"]["read"],
                      "train_images": len(splits["train"]["paths"]), "batch": args.batch,
                      "loader_workers": p["loader_workers"], "cpus": cpus,
                      "cpu": platform.processor() or platform.machine(), "batch_shape": shape,
                      "images_per_second": [round(r, 1) for r in rates],
                      "median": round(statistics.median(rates), 1),
                      "load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
