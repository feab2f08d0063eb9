"""The one entry point of the container side: run one task with one framework adapter.

    python tasks/run.py TASK --adapter ADAPTER [--variant NAME] [--device cpu|gpu]
                       [--data DIR | --synthetic] [--epochs N] [--limit N] [--seed S]
                       [--weights FILE] --out FILE
    python tasks/run.py densenet --adapter ADAPTER [--gpus N | --workers N] [--image-size S]
                       [--batch-size B] ...

Runs the same way inside an image (tasks/ mounted at /tasks) and from a checkout with any
local Python that has the framework. See tasks/README.md for the adapter contract.
"""
from __future__ import absolute_import, division, print_function
import time

PROCESS_START = getattr(time, "perf_counter", time.time)()  # measure/timer.py's clock

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from runtime import adapters  # noqa: E402  (standard library only)

# the variant's environment before numpy is imported: numpy's OpenBLAS reads it when it loads
adapters.set_env_early(sys.argv[1:])

import numpy as np  # noqa: E402

from common import canonical, chestxray, cpus, params  # noqa: E402
from measure import energy, envprobe, flops, peak, timer  # noqa: E402
from runtime import data as datasets  # noqa: E402
from runtime import output, protocol, workers  # noqa: E402

DEVICES_ENV = "DLBENCH_DEVICES"  # densenet: the data-parallel replica count, exported


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
    ap.add_argument("--latency", action="store_true",
                    help="inference: also time requests one by one at batch 1 and 8 (p50, p90, "
                         "p99 per request; beyond 2017), after the throughput pass")
    ap.add_argument("--latency-requests", type=int, default=None,
                    help="inference --latency: requests per batch size [default: %d]"
                         % protocol.LATENCY_REQUESTS)
    ap.add_argument("--out", required=True, help="result JSON to write")
    ap.add_argument("--gpus", type=int, help="densenet, --device gpu: data-parallel replicas, "
                                             "one per GPU [default: every GPU visible]")
    ap.add_argument("--workers", type=int, help="densenet, --device cpu: data-parallel replicas "
                                                "sharing the CPU [default: 1]")
    ap.add_argument("--image-size", type=int, help="densenet, tests only: crop S instead of "
                                                   "224 (resize S*264/224); recorded")
    ap.add_argument("--batch-size", type=int, help="densenet: per-device batch instead of "
                                                   "2017's 64 (speed checks, tests); recorded")
    args = ap.parse_args(argv)
    for name in ("gpus", "workers", "image_size", "batch_size"):
        if getattr(args, name) is not None and args.task != "densenet":
            ap.error("--%s is a densenet option" % name.replace("_", "-"))
    if args.gpus is not None and args.device != "gpu":
        ap.error("--gpus needs --device gpu; on the CPU ask for --workers N")
    if args.workers is not None and args.device != "cpu":
        ap.error("--workers is for --device cpu; on GPUs ask for --gpus N")
    for name, low in (("gpus", 1), ("workers", 1), ("image_size", 32), ("batch_size", 1)):
        value = getattr(args, name)
        if value is not None and value < low:
            ap.error("--%s must be at least %d" % (name.replace("_", "-"), low))
    if (args.latency or args.latency_requests is not None) and args.task != "inference":
        ap.error("--latency is an inference option")
    if args.latency_requests is not None and args.latency_requests < 1:
        ap.error("--latency-requests must be at least 1")
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


def densenet_params(args, p):
    """The device count (--gpus / --workers; on GPUs every visible one by default), the 2017
    scaling of batch and lr by it, the test-only image size, and the loader's workers (2017's 6,
    no more than the CPUs this process may use)."""
    if args.device == "gpu":
        devices = args.gpus if args.gpus is not None else workers.visible_gpus()
        if devices < 1:
            raise RuntimeError("--device gpu, but no GPU is visible (CUDA_VISIBLE_DEVICES, "
                               "/proc/driver/nvidia/gpus): use --device cpu or a GPU host")
    else:
        devices = args.workers or 1
    if args.batch_size:
        p["batch_size_override"] = args.batch_size  # never beside a 2017 figure
        p["batch_size"] = args.batch_size
    # the framework module (stdlib only at its top) says whether its notebook scaled the lr
    try:
        lr_scales = getattr(adapters.framework(args.adapter), "LR_SCALES_WITH_DEVICES", True)
    except LookupError:  # an unknown adapter: said in the result once the run starts it
        lr_scales = True
    p = params.scale_for_devices(p, devices, lr_scales=lr_scales)
    if args.image_size:
        p["image_size_override"] = args.image_size  # a test run: never beside a 2017 figure
        p["height"] = p["width"] = args.image_size
        p["resize"] = int(round(args.image_size * p["resize"] / 224.0))
    p["loader_workers"] = max(1, min(p["loader_workers"], cpus.available()))
    return p


def validator(adapter, state, loader, rank):
    """The validation pass after each epoch (real data): the BCE over the validation split.
    Rank 0 validates; the others go on (their next step waits for it)."""
    def validate(epoch):
        if rank:
            return None
        probs, labels, _ = protocol.predict_loader(adapter, state, loader)
        return chestxray.bce(labels, probs)
    return validate


# A peak an earlier run of this bench measured with the same image, adapter, variant and device
# (so the same framework, BLAS, threads and math settings), as JSON with its run folder: the
# harness hands it on (harness/launch/bench.py) so the ~3 s probe runs once per bench, not per run
PEAK_ENV = "DLBENCH_PEAK"


def reused_peak(device, environ=os.environ):
    """The peak record in PEAK_ENV, marked reused (from which run, what its probe took), or None
    when there is none usable for this device."""
    try:
        found = json.loads(environ.get(PEAK_ENV) or "null")
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("device") != device or not found.get("gflops"):
        return None
    found = dict(found)
    found["reused"] = {"from": found.pop("run", None) or "an earlier run of this bench",
                       "probe_seconds": found.get("seconds")}
    found["seconds"] = 0.0  # no probe ran in this process
    return found


def measure_peak(fw, device, result):
    """result["peak"]: one device's fp32 matmul rate, in this process with its threads, outside
    every clock (or the one an earlier run of the bench measured with the same settings:
    PEAK_ENV); on any error None and result["peak_error"] (the probe must never cost a
    result)."""
    reused = reused_peak(device)
    if reused is not None:
        result["peak"] = reused
        return
    result["peak"], error = probe_peak(fw, device, result)
    if error is not None:
        result["peak_error"] = error


def probe_peak(fw, device, result):
    """(the peak probe's record, None), or (None, its error in one line)."""
    try:
        return peak.measure(fw, device, threads=result["env"].get("threads")), None
    except Exception as e:
        return None, peak.one_line(e)


def check_peak(fw, args, result):
    """A run cannot beat its own yardstick: when the achieved rate is above the measured peak,
    the probe ran while the CPU was slower than during the timed span (another process, a
    frequency change; the peak handed on from an earlier run of the bench, PEAK_ENV, likewise).
    The probe runs again here, after the timed span and outside it, the higher of the two is the
    peak and the MFU is recomputed; checks.peak records both probes, and is flagged when the
    run is still above the higher one (then its MFU is no measure)."""
    mfu = result.get("mfu") or {}
    share = mfu.get("of_measured_peak")
    if not result.get("peak") or share is None or share <= 1.0:
        return
    first = result["peak"]
    again, error = probe_peak(fw, args.device, result)
    if again is not None and again["gflops"] > first["gflops"]:
        result["peak"] = again
        result["mfu"] = flops.mfu(args.task, result["flops"], result["timings"], again)
    share = result["mfu"]["of_measured_peak"]
    flagged = share > 1.0
    result.setdefault("checks", {})["peak"] = {
        "first_gflops": first["gflops"], "first_reused": bool(first.get("reused")),
        "reprobed_gflops": again["gflops"] if again is not None else None,
        "error": error, "achieved_gflops": result["mfu"]["achieved_gflops"], "flagged": flagged,
        "note": "achieved rate above both probes of the peak: the MFU is no measure"
        if flagged else None}


def run_densenet(args, result, fw, adapter, settings, rank):
    p = result["params"]
    layout = settings.get("layout")
    # the devices first: TensorFlow's logical CPU devices must be set up before anything
    # initialises its runtime (the probe may)
    dist = adapter.start_devices(p, rank)
    # on an error the group is left as it is (no stop_devices): its barrier could wait
    # for a rank that died; the process exits and the other ranks see it
    result["env"] = envprobe.probe(fw)
    result["env"]["adapter_settings"] = settings
    if not rank:
        output.emit("start", task=args.task, framework=result["framework"],
                    variant=result["variant"], device=args.device,
                    framework_version=result["env"].get("framework_version"),
                    devices=p["devices"])
        measure_peak(fw, args.device, result)  # rank 0 only: the result's process
    if args.synthetic:
        splits, meta = chestxray.synthetic(p, args.seed, limit=args.limit, layout=layout)
    else:
        splits, meta = chestxray.load_index(args.data, p, limit=args.limit)
    result["data"] = meta
    state = build_densenet(adapter, p, dist, layout, result)
    train = adapter.make_loader(splits["train"], p, dist, True, args.seed)
    validation = None
    valid = splits["valid"]
    if valid is not None and len(valid["labels"]):
        validation = validator(adapter, state, adapter.make_loader(valid, p, dist, False,
                                                                   args.seed), rank)
    # energy over exactly the steady-state clock's segments (protocol.train_loader pauses it for
    # the validation passes). Rank 0 measures for the whole run: RAPL counts whole packages (all
    # replicas at once), and the GPU part sums the run's devices (measure/energy.py)
    meter = None if rank else energy.Meter(
        args.device, gpus=p["devices"] if args.device == "gpu" else 1)
    timings, loss, valid_loss = protocol.train_loader(
        adapter, state, train, p, validation, meter,
        progress_seconds=None if rank else protocol.PROGRESS_SECONDS)  # rank 0 tells the host
    result["checks"] = {"clock": protocol.clock_check(timings["unsynced_seconds"],
                                                      timings["train_seconds"])}
    result["parallel"] = {"devices": p["devices"], "per_device_batch": p["per_device_batch"],
                          "global_batch": p["global_batch"], "global_lr": p["global_lr"],
                          "mode": data_parallel_mode(fw, result.get("variant")),
                          "backend": dist.get("backend") if isinstance(dist, dict) else None}
    metrics = {"test_accuracy": None, "final_loss": loss}
    if valid_loss and valid_loss[0] is not None:
        metrics["valid_loss"] = valid_loss
    if not rank:
        test_densenet(adapter, state, splits["test"], p, dist, args.seed, timings, metrics)
    result["timings"] = timings
    result["metrics"] = metrics
    if not rank:
        densenet_mfu_and_energy(args, p, timings, meter, result)
    adapter.stop_devices(dist)


def build_densenet(adapter, p, dist, layout, result):
    """The model (its parameter count checked against the reference's) and its trainer."""
    model = adapter.build_model(p, dist)
    n_params = int(adapter.count_parameters(model))
    result["model"] = {"parameters": n_params, "layout": layout, "weights": "random",
                       "network": "DenseNet-121"}
    if n_params != p["parameters"]:
        raise AssertionError("DenseNet-121 has %d parameters, the reference model has %d"
                             % (n_params, p["parameters"]))
    return adapter.build_trainer(model, p, dist)


def test_densenet(adapter, state, test, p, dist, seed, timings, metrics):
    """The test split's predictions (labels checked in split order): eval_seconds, mean AUC."""
    probs, labels, seconds = protocol.predict_loader(
        adapter, state, adapter.make_loader(test, p, dist, False, seed))
    n = test["size"] if "size" in test else len(test["labels"])
    expected = (test["labels"][chestxray.synthetic_rows(test, 0, n)] if "x" in test
                else test["labels"])
    if probs.shape != expected.shape or not np.array_equal(labels, expected):
        raise AssertionError("the evaluation loader gave %s predictions and labels out "
                             "of order; expected %s in split order"
                             % (probs.shape, expected.shape))
    timings["eval_seconds"] = seconds
    metrics["test_auc"], metrics["test_auc_per_label"] = chestxray.mean_auc(labels, probs)


def densenet_mfu_and_energy(args, p, timings, meter, result):
    """Rank 0's FLOPs, MFU per device and energy of the run."""
    # MFU per device: one replica's images/s x training FLOPs against one device's peak
    result["flops"] = flops.count(args.task, p)
    per_device = {"images_per_second": timings.get("images_per_second_per_device")}
    result["mfu"] = flops.mfu(args.task, result["flops"], per_device, result.get("peak"))
    result["mfu"]["basis"] = ("training, per device: one replica's examples/s "
                              "(train_seconds) x training FLOPs")
    # joules over the images of every replica in the span images/s counts
    result["energy"], result["energy_absent_reason"] = meter.record(
        p["epochs"], timings["batches"] * p["global_batch"])
    if result["energy"] is not None:
        result["energy"]["basis"] = (
            "rank 0's timed training segments (validation excluded); cpu_package: whole "
            "packages, every replica" + ("; gpu: the run's %d device(s) summed"
                                         % p["devices"] if args.device == "gpu" else ""))


def run(args, result, rank=None):
    fw, adapter, settings = adapters.start(args.task, args.adapter, result["variant"],
                                           args.device, args.seed)
    if args.task == "densenet":
        return run_densenet(args, result, fw, adapter, settings, rank or 0)
    p = result["params"]
    result["env"] = envprobe.probe(fw)
    result["env"]["adapter_settings"] = settings
    layout = settings.get("layout")
    output.emit("start", task=args.task, framework=result["framework"], variant=result["variant"],
                device=args.device, framework_version=result["env"].get("framework_version"))
    # the device's fp32 matmul rate, in this process with its threads, outside every clock
    measure_peak(fw, args.device, result)

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

    # where ResNet-50's strides sit (FLOPs differ): from the file's structure family
    family = canonical.family_for(getattr(adapter, "EQUIVALENCE", None), result["variant"])
    result["flops"] = flops.count(args.task, p, canonical.flops_structure(family))
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
        if args.latency or args.latency_requests is not None:  # after the throughput pass,
            # outside every figure above (--latency-requests implies --latency, as in bench)
            result["latency"] = protocol.latency(
                adapter, model, data["x"],
                requests=args.latency_requests or protocol.LATENCY_REQUESTS)
    else:
        state = adapter.build_trainer(model, p)
        timings, loss = protocol.train(adapter, state, data, p, args.seed, meter,
                                       by_epoch=settings.get("training_loop") == "train_epoch")
        result["checks"] = {"clock": protocol.clock_check(timings["unsynced_seconds"],
                                                          timings["train_seconds"])}
        eval_timings, accuracy = protocol.evaluate(adapter, state, data, p)
        timings.update(eval_timings)
        result["timings"] = timings
        result["metrics"] = {"test_accuracy": accuracy, "final_loss": loss}
    result["mfu"] = flops.mfu(args.task, result["flops"], result["timings"], result["peak"])
    check_peak(fw, args, result)
    # joules over the timed span: per epoch (inference: its one timed pass), per 1000 images
    images = result["timings"]["batches"] * p["batch_size"]
    result["energy"], result["energy_absent_reason"] = meter.record(
        1 if args.task == "inference" else p["epochs"], images)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    p = params.for_task(args.task, args.epochs)
    rank = workers.rank()
    setup_error = None
    if args.task == "densenet":
        try:
            p = densenet_params(args, p)
            # the replica count, for a framework that must know it before it is imported
            # (JAX makes its host devices as it starts: frameworks/flax.py host_devices_env)
            os.environ[DEVICES_ENV] = str(p["devices"])
        except RuntimeError as e:
            setup_error = str(e)
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
    if setup_error:
        result["reason"], result["exit_code"] = setup_error, 1
        output.write_result(result, args.out)
        sys.stderr.write("dlbench %s/%s failed: %s\n" % (args.task, args.adapter, setup_error))
        return 1
    if (rank is None and args.task == "densenet" and p["devices"] > 1
            and data_parallel_mode(fw, variant) == "processes"):
        return launch_replicas(args, result, argv)
    try:
        run(args, result, rank)
        result["status"], result["reason"], result["exit_code"] = "ok", None, 0
    except KeyboardInterrupt:
        result["reason"], result["exit_code"] = "interrupted", 130
    except Exception as e:
        reason = "%s: %s" % (type(e).__name__, e) if not isinstance(
            e, datasets.DataError) else str(e)
        result["reason"], result["exit_code"] = reason.splitlines()[0] if reason else "error", 1
        result["traceback"] = traceback.format_exc()
    # The whole process from run.py's first line (the interpreter's own start, a few
    # hundredths of a second, is not in it), framework import included: what the task costs
    # inside the container, against which the host measures its own overhead.
    result["timings"]["process_seconds"] = timer.clock() - PROCESS_START
    if rank:  # a replica other than rank 0: its result only carries its status to the launcher
        output.write_result(result, workers.rank_out(args.out, rank))
        return result["exit_code"] or 0
    output.write_result(result, args.out)
    output.emit("end", status=result["status"], reason=result["reason"], out=args.out,
                timings=result["timings"], metrics=result["metrics"])
    if result["status"] != "ok":
        sys.stderr.write("dlbench %s/%s failed: %s\n" % (args.task, args.adapter,
                                                         result["reason"]))
        return result["exit_code"]
    return 0


def data_parallel_mode(fw, variant):
    """How a densenet run's replicas run: "processes" (run.py starts one per replica) or
    "in_process"; the framework module's DATA_PARALLEL, one value or one per variant."""
    mode = getattr(fw, "DATA_PARALLEL", "in_process")
    if isinstance(mode, dict):
        mode = mode.get(variant, "in_process")
    return mode


def launch_replicas(args, result, argv):
    """One process per replica (the framework module's DATA_PARALLEL = "processes"): rank 0
    writes the result; when another rank fails, or rank 0 leaves none, the result says which
    rank failed and why."""
    argv = sys.argv[1:] if argv is None else argv
    codes, reasons = workers.launch(os.path.abspath(__file__), argv, result["params"]["devices"],
                                    args.out)
    if all(c == 0 for c in codes) and os.path.exists(args.out):
        return 0
    written = None
    if os.path.exists(args.out):
        with open(args.out) as f:
            written = json.load(f)
    bad = [r for r, c in enumerate(codes) if c != 0]
    if written is None or written.get("status") == "ok" or (bad and bad[0] != 0):
        first = bad[0] if bad else 0
        result = written or result
        result["status"] = "failed"
        result["reason"] = "replica %d of %d failed (exit %s): %s" % (
            first, len(codes), codes[first], reasons.get(first) or
            (written or {}).get("reason") or "no reason written (killed?)")
        result["exit_code"] = 1
        output.write_result(result, args.out)
        sys.stderr.write("dlbench densenet/%s failed: %s\n" % (args.adapter, result["reason"]))
    return 1


def leave(code):
    """End the process with `code` once its result is written: the output flushed, then
    os._exit, which skips the interpreter's teardown (a framework freeing its memory and
    threads: about half a second with PyTorch, timed inside the container's lifetime but after
    process_seconds). A hosted run (R, Julia) hands the code back to its host instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.environ.get(adapters.HOSTED_ENV):
        sys.exit(code)
    os._exit(int(code or 0))


if __name__ == "__main__":
    leave(main())
