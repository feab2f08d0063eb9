"""The container side of `dlbench check-models`: load canonical parameters into one adapter's
models, run a fixed batch in eval mode, write the outputs.

    python tasks/check_model.py --adapter ADAPTER [--variant NAME] [--device cpu|gpu]
                                --job TASK,FAMILY,PARAMS.npz,INPUT.npz [--job ...] --out DIR

One process per (adapter, variant), every task it is asked (the framework is imported and
initialised once). Starts the adapter as run.py does (runtime/adapters.py: the variant's
environment, load, the first task file, init; the other task files are imported after), builds
each task's model (and, for a training task, the trainer state `predict` takes; DenseNet-121 on
one device, at canonical.CHECK_INPUT's image size and the check's batch), imports the
canonical parameters (common/canonical.py), runs `outputs` on the input's `x` (converted to the
task file's layout, as run.py converts data) and writes DIR/TASK/outputs.npz (`output`) and
DIR/TASK/check.json: status ok or failed with the reason, or "not-checked" when the task file
has no import_params; the adapter's parameter count, its export of the imported parameters
compared with what was imported (names, shapes, values), and the task's seconds. The comparison
with the numpy reference is the host's. Exit 0 when every check.json says ok, 1 otherwise, 2 for
usage errors.
"""
from __future__ import absolute_import, division, print_function
import argparse
import importlib
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import params  # noqa: E402  (standard library only)
from runtime import adapters  # noqa: E402  (standard library only)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="check_model.py",
                                 description="Run one adapter on canonical parameters.")
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--variant")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--job", action="append", required=True,
                    metavar="TASK,FAMILY,PARAMS,INPUT",
                    help="a task, the family its parameters are drawn for, the canonical "
                         "parameters (.npz) and the input batch (.npz with x, NCHW); repeatable")
    ap.add_argument("--out", required=True, help="folder for TASK/check.json and outputs.npz")
    args = ap.parse_args(argv)
    jobs = []
    for text in args.job:
        parts = text.split(",")
        if len(parts) != 4 or parts[0] not in params.TASKS:
            ap.error("--job %s: give TASK,FAMILY,PARAMS,INPUT with TASK one of %s"
                     % (text, ", ".join(params.TASKS)))
        jobs.append(dict(zip(("task", "family", "params", "input"), parts)))
    args.jobs = jobs
    return args


ARGS = parse_args(sys.argv[1:]) if __name__ == "__main__" else None
if ARGS is not None:  # the variant's environment before numpy is imported (as run.py)
    adapters.set_env_early([ARGS.jobs[0]["task"], "--adapter", ARGS.adapter, "--device",
                            ARGS.device] + (["--variant", ARGS.variant] if ARGS.variant else []))

import numpy as np  # noqa: E402

from common import canonical  # noqa: E402
from measure import envprobe  # noqa: E402
from runtime import output  # noqa: E402

EQUIVALENCE_FUNCTIONS = ("export_params", "import_params", "outputs")


def declared_family(module, variant):
    """The family the task file declares for this variant (EQUIVALENCE), or None."""
    eq = getattr(module, "EQUIVALENCE", None) or {}
    return eq.get("variants", {}).get(variant, eq.get("family"))


def export_problems(exported, imported):
    """What differs between the adapter's export and the parameters it imported."""
    problems = []
    missing = sorted(set(imported) - set(exported))
    extra = sorted(set(exported) - set(imported))
    if missing:
        problems.append("export lacks %s" % ", ".join(missing[:5]))
    if extra:
        problems.append("export has unknown %s" % ", ".join(extra[:5]))
    differ = []
    for name in sorted(set(exported) & set(imported)):
        a, b = np.asarray(exported[name]), imported[name]
        if a.shape != b.shape:
            differ.append("%s exported with shape %s, imported %s" % (name, a.shape, b.shape))
        elif not np.allclose(a.astype(np.float64), b, rtol=1e-6, atol=1e-7):
            differ.append("%s exported differs from the imported values (max abs diff %.3g)"
                          % (name, float(np.max(np.abs(a.astype(np.float64) - b)))))
    problems += differ[:5]
    if len(differ) > 5:  # DenseNet-121 has 120 convolutions: name a few, count the rest
        problems.append("and %d more arrays" % (len(differ) - 5))
    return problems


class Started(object):
    """The adapter, started once for the first task; later tasks import their task file."""

    def __init__(self):
        self.fw, self.settings, self.version = None, None, None

    def module(self, task, adapter, variant, device):
        if self.fw is None:
            self.fw, module, self.settings = adapters.start(task, adapter, variant, device, 0)
            return module, dict(self.settings)
        if adapter not in adapters.adapters_for(task):
            raise LookupError("no %s adapter '%s' (tasks/%s/%s.py)" % (task, adapter, task,
                                                                       adapter))
        adapters.variant(self.fw, variant, task, device)
        module = importlib.import_module("%s.%s" % (task, adapter))
        return module, adapters.task_settings(self.fw, module, device, self.settings)


def check(started, args, job, record):
    task = job["task"]
    module, settings = started.module(task, args.adapter, record["variant"], args.device)
    record["settings"] = settings
    if started.version is None:
        started.version = envprobe.probe(started.fw).get("framework_version")
    record["framework_version"] = started.version
    missing = [f for f in EQUIVALENCE_FUNCTIONS if not hasattr(module, f)]
    if missing:
        record["status"] = "not-checked"
        record["reason"] = "not checked: no %s in tasks/%s/%s.py%s" % (
            ", ".join(missing), task, args.adapter,
            ": " + module.NOT_CHECKED if getattr(module, "NOT_CHECKED", None) else "")
        return
    family = declared_family(module, record["variant"])
    record["declared_family"] = family
    if family != job["family"]:
        raise ValueError("tasks/%s/%s.py declares family %s for variant %s, the check drew "
                         "parameters for %s" % (task, args.adapter, family, record["variant"],
                                                job["family"]))
    p = canonical.check_params(task, params.for_task(task))
    with np.load(job["input"]) as f:
        x = f["x"]
    dist = None
    if task == "densenet":
        # one device, one process: the data-parallel group is never started; the batch is the
        # check's (a network bound to a batch size, MXNet's Module, is bound to it)
        p["batch_size"] = int(x.shape[0])
        p = params.scale_for_devices(p, 1)
        dist = module.start_devices(p, 0)
        model = module.build_model(p, dist)
    else:
        model = module.build_model(p)
    record["parameters"] = int(module.count_parameters(model))
    if task == "inference":
        state = model
    elif dist is not None:
        state = module.build_trainer(model, p, dist)
    else:
        state = module.build_trainer(model, p)
    canonical_params = canonical.load(job["params"])
    module.import_params(state, canonical_params)
    if settings.get("layout") == "NHWC" and x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # as run.py converts the data
    out = np.asarray(module.outputs(state, x))
    np.savez(os.path.join(args.out, task, "outputs.npz"), output=out)
    record["output_shape"] = list(out.shape)
    record["output_dtype"] = str(out.dtype)
    problems = export_problems(module.export_params(state), canonical_params)
    if dist is not None:
        module.stop_devices(dist)
    record["export"] = {"ok": not problems, "problems": problems}
    record["status"], record["reason"] = "ok", None


def main(args):
    framework, variant = None, args.variant
    try:
        fw = adapters.framework(args.adapter)
        framework = fw.NAME
        variant = variant or adapters.variant_names(fw, args.jobs[0]["task"])[0]
    except (LookupError, IndexError):
        pass
    started, failed = Started(), 0
    for job in args.jobs:
        folder = os.path.join(args.out, job["task"])
        if not os.path.isdir(folder):
            os.makedirs(folder)
        record = {"task": job["task"], "adapter": args.adapter, "framework": framework,
                  "variant": variant, "device": args.device, "family": job["family"],
                  "status": "failed", "reason": "did not finish", "parameters": None,
                  "started": output.now_iso()}
        t0 = time.time()
        try:
            check(started, args, job, record)
        except Exception as e:
            record["status"] = "failed"
            record["reason"] = ("%s: %s" % (type(e).__name__, e)).splitlines()[0]
            record["traceback"] = traceback.format_exc()
        record["seconds"] = round(time.time() - t0, 3)
        output.write_result(record, os.path.join(folder, "check.json"))
        output.emit("check", task=job["task"], status=record["status"],
                    reason=record["reason"])
        if record["status"] != "ok":
            failed += 1
            sys.stderr.write("dlbench check-model %s/%s: %s\n"
                             % (job["task"], args.adapter, record["reason"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
