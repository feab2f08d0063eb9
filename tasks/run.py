"""The one entry point of the container side: run one task with one framework adapter.

    python tasks/run.py TASK --adapter ADAPTER [--variant NAME] [--device cpu|gpu]
                       [--data DIR | --synthetic] [--epochs N] [--limit N] [--seed S]
                       [--weights FILE] --out FILE

Runs the same way inside an image (tasks/ mounted at /tasks) and from a checkout with any
local Python that has the framework. See tasks/README.md for the adapter contract.
"""
import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import adapters  # noqa: E402  (standard library only)

# the variant's environment before numpy is imported: numpy's OpenBLAS reads it when it loads
adapters.set_env_early(sys.argv[1:])

from common import data as datasets  # noqa: E402
from common import energy, envprobe, flops, output, params, peak, protocol  # noqa: E402

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="run.py", description="Run one dlbench task.")
    ap.add_argument("task", choices=params.TASKS)
    ap.add_argument("--adapter", "--framework", dest="adapter", required=True,
                    help="frameworks/<name>.py and TASK/<name>.py (--framework: older name)")
    ap.add_argument("--variant", help="a variant the framework module declares "
                                      "[default: its first, the reference]")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--data", help="folder with cifar-10-python.tar.gz and imdb.npz")
    src.add_argument("--synthetic", action="store_true",
                     help="synthetic data of the real shapes (speed only; labelled synthetic)")
    ap.add_argument("--epochs", type=int, help="override the reference epoch count")
    ap.add_argument("--limit", type=int, help="keep the first N examples of each split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weights", help="inference: local file of pretrained weights")
    ap.add_argument("--out", required=True, help="result JSON to write")
    args = ap.parse_args(argv)
    if args.task != "inference" and not args.synthetic and not args.data:
        ap.error("give --data DIR or --synthetic")
    for name in ("epochs", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            ap.error("--%s must be at least 1" % name)
    return args


def load_data(args, p, layout):
    if args.task == "inference":
        return datasets.random_images(p, args.seed, layout=layout, limit=args.limit)
    if args.task == "cnn":
        d = (datasets.synthetic_cifar(args.seed, limit=args.limit) if args.synthetic
             else datasets.load_cifar(args.data, limit=args.limit))
        if layout == "NHWC":  # converted once, before the clock
            for k in ("x_train", "x_test"):
                d[k] = d[k].transpose(0, 2, 3, 1).copy()
        return d
    return (datasets.synthetic_imdb(p, args.seed, limit=args.limit) if args.synthetic
            else datasets.load_imdb(args.data, p, limit=args.limit))


def run(args, result):
    fw, adapter, settings = adapters.start(args.task, args.adapter, result["variant"],
                                           args.device, args.seed)
    p = result["params"]
    result["env"] = envprobe.probe(fw)
    result["env"]["adapter_settings"] = settings
    layout = settings.get("layout")
    output.emit("start", task=args.task, framework=result["framework"], variant=result["variant"],
                device=args.device, framework_version=result["env"].get("framework_version"))
    # the device's fp32 matmul rate, in this process with its threads, outside every clock
    try:
        result["peak"] = peak.measure(fw, args.device, threads=result["env"].get("threads"))
    except Exception as e:  # the probe must never cost a result
        result["peak"] = None
        result["peak_error"] = ("%s: %s" % (type(e).__name__, e)).splitlines()[0]

    data = load_data(args, p, layout)
    result["data"] = data.pop("meta")
    model = adapter.build_model(p)
    n_params = int(adapter.count_parameters(model))
    result["model"] = {"parameters": n_params, "layout": layout, "weights": None}
    if args.task == "cnn" and n_params != p["parameters"]:
        raise AssertionError("CNN has %d parameters, the reference model has %d"
                             % (n_params, p["parameters"]))
    # a task file whose model is its framework's own (each 2017 ResNet-50; TensorFlow's GRU with
    # 2017's trainable initial state) declares its count: inference files must
    expected = getattr(adapter, "PARAMETERS", None)
    if expected is None and args.task == "inference":
        raise AssertionError("tasks/inference/%s.py declares no PARAMETERS (the count its "
                             "ResNet-50 must have)" % args.adapter)
    if expected is not None and n_params != expected:
        raise AssertionError("%s model has %d parameters, tasks/%s/%s.py declares PARAMETERS = %d"
                             % (args.task, n_params, args.task, args.adapter, expected))

    result["flops"] = flops.count(args.task, p, getattr(adapter, "STRUCTURE", None))
    meter = energy.Meter(args.device)

    if args.task == "inference":
        result["model"]["weights"] = "random"
        if args.weights:
            adapter.load_weights(model, args.weights)
            result["model"]["weights"] = args.weights
        timings, features, n = protocol.infer(adapter, model, data["x"], p, meter)
        result["timings"] = timings
        result["metrics"] = {"features": features, "test_accuracy": None, "images": n}
        result["checks"] = {"clock": protocol.clock_check(timings["unsynced_seconds"],
                                                          timings["eval_seconds"])}
        if features != p["features"]:
            raise AssertionError("ResNet-50 gave %d features, expected %d"
                                 % (features, p["features"]))
    else:
        state = adapter.build_trainer(model, p)
        timings, loss = protocol.train(adapter, state, data, p, args.seed, meter)
        result["checks"] = {"clock": protocol.clock_check(timings["unsynced_seconds"],
                                                          timings["train_seconds"])}
        eval_timings, accuracy = protocol.evaluate(adapter, state, data, p)
        timings.update(eval_timings)
        result["timings"] = timings
        result["metrics"] = {"test_accuracy": accuracy, "final_loss": loss}
    result["mfu"] = flops.mfu(args.task, result["flops"], result["timings"], result["peak"])
    # joules over the timed span: per epoch (inference: its one timed pass), per 1000 images
    images = result["timings"]["batches"] * p["batch_size"]
    result["energy"], result["energy_absent_reason"] = meter.record(
        1 if args.task == "inference" else p["epochs"], images)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    p = params.for_task(args.task, args.epochs)
    # inference always times random images (the 2017 protocol): synthetic by design
    source = "synthetic" if args.synthetic or args.task == "inference" else "real"
    framework, variant = args.adapter, args.variant
    try:  # the framework module imports nothing of the framework: its names are safe to read
        fw = adapters.framework(args.adapter)
        framework = fw.NAME
        variant = variant or adapters.variant_names(fw, args.task)[0]
    except (LookupError, IndexError):
        pass  # run() fails with the reason, into the result
    result = output.new_result(args.task, framework, args.adapter, variant or "reference",
                               args.device, p, source)
    try:
        run(args, result)
        result["status"], result["reason"], result["exit_code"] = "ok", None, 0
    except KeyboardInterrupt:
        result["reason"], result["exit_code"] = "interrupted", 130
    except Exception as e:
        reason = "%s: %s" % (type(e).__name__, e) if not isinstance(
            e, datasets.DataError) else str(e)
        result["reason"], result["exit_code"] = reason.splitlines()[0] if reason else "error", 1
        result["traceback"] = traceback.format_exc()
    # The whole process, interpreter start-up and framework import included: what the task
    # costs inside the container, against which the host measures its own overhead.
    result["timings"]["process_seconds"] = protocol.clock() - PROCESS_START
    output.write_result(result, args.out)
    output.emit("end", status=result["status"], reason=result["reason"], out=args.out,
                timings=result["timings"], metrics=result["metrics"])
    if result["status"] != "ok":
        sys.stderr.write("dlbench %s/%s failed: %s\n" % (args.task, args.adapter,
                                                          result["reason"]))
        return result["exit_code"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
