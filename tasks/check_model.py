"""The container side of `dlbench check-models`: load canonical parameters into one adapter's
model, run a fixed batch in eval mode, write the outputs.

    python tasks/check_model.py TASK --adapter ADAPTER [--variant NAME] [--device cpu|gpu]
                                --family FAMILY --params FILE.npz --input FILE.npz --out DIR

Starts the adapter as run.py does (common/adapters.py: the variant's environment, load, the
task file, init), builds the model (and, for a training task, the trainer state `predict`
takes), imports the canonical parameters (common/canonical.py), runs `outputs` on the input's
`x` (converted to the task file's layout, as run.py converts data) and writes DIR/outputs.npz
(`output`) and DIR/check.json: status ok or failed with the reason, or "not-checked" when the
task file has no import_params; the adapter's parameter count and its export of the imported
parameters compared with what was imported (names, shapes, values). The comparison with the
numpy reference is the host's. Exit 0 when check.json says ok, 1 otherwise, 2 for usage errors.
"""
import argparse
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import adapters  # noqa: E402  (standard library only)

adapters.set_env_early(sys.argv[1:])

import numpy as np  # noqa: E402

from common import canonical, envprobe, output, params  # noqa: E402

EQUIVALENCE_FUNCTIONS = ("export_params", "import_params", "outputs")


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="check_model.py",
                                 description="Run one adapter on canonical parameters.")
    ap.add_argument("task", choices=params.TASKS)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--variant")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    ap.add_argument("--family", required=True, help="the family the parameters are drawn for")
    ap.add_argument("--params", required=True, help="canonical parameters (.npz)")
    ap.add_argument("--input", required=True, help="the input batch (.npz with x, NCHW)")
    ap.add_argument("--out", required=True, help="folder for check.json and outputs.npz")
    return ap.parse_args(argv)


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
    for name in sorted(set(exported) & set(imported)):
        a, b = np.asarray(exported[name]), imported[name]
        if a.shape != b.shape:
            problems.append("%s exported with shape %s, imported %s" % (name, a.shape, b.shape))
        elif not np.allclose(a.astype(np.float64), b, rtol=1e-6, atol=1e-7):
            problems.append("%s exported differs from the imported values (max abs diff %.3g)"
                            % (name, float(np.max(np.abs(a.astype(np.float64) - b)))))
    return problems


def check(args, record):
    fw, module, settings = adapters.start(args.task, args.adapter, record["variant"],
                                          args.device, 0)
    record["settings"] = settings
    record["framework_version"] = envprobe.probe(fw).get("framework_version")
    missing = [f for f in EQUIVALENCE_FUNCTIONS if not hasattr(module, f)]
    if missing:
        record["status"] = "not-checked"
        record["reason"] = "not checked: no %s in tasks/%s/%s.py" % (
            ", ".join(missing), args.task, args.adapter)
        return
    family = declared_family(module, record["variant"])
    record["declared_family"] = family
    if family != args.family:
        raise ValueError("tasks/%s/%s.py declares family %s for variant %s, the check drew "
                         "parameters for %s" % (args.task, args.adapter, family,
                                                record["variant"], args.family))
    p = params.for_task(args.task)
    model = module.build_model(p)
    record["parameters"] = int(module.count_parameters(model))
    state = model if args.task == "inference" else module.build_trainer(model, p)
    canonical_params = canonical.load(args.params)
    module.import_params(state, canonical_params)
    with np.load(args.input) as f:
        x = f["x"]
    if settings.get("layout") == "NHWC" and x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # as run.py converts the data
    out = np.asarray(module.outputs(state, x))
    np.savez(os.path.join(args.out, "outputs.npz"), output=out)
    record["output_shape"] = list(out.shape)
    record["output_dtype"] = str(out.dtype)
    problems = export_problems(module.export_params(state), canonical_params)
    record["export"] = {"ok": not problems, "problems": problems}
    record["status"], record["reason"] = "ok", None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    record = {"task": args.task, "adapter": args.adapter, "variant": args.variant,
              "device": args.device, "family": args.family, "status": "failed",
              "reason": "did not finish", "parameters": None, "started": output.now_iso()}
    try:
        fw = adapters.framework(args.adapter)
        record["framework"] = fw.NAME
        record["variant"] = args.variant or adapters.variant_names(fw, args.task)[0]
    except (LookupError, IndexError):
        pass
    if not os.path.isdir(args.out):
        os.makedirs(args.out)
    try:
        check(args, record)
    except Exception as e:
        record["status"] = "failed"
        record["reason"] = ("%s: %s" % (type(e).__name__, e)).splitlines()[0]
        record["traceback"] = traceback.format_exc()
    output.write_result(record, os.path.join(args.out, "check.json"))
    output.emit("end", status=record["status"], reason=record["reason"])
    if record["status"] != "ok":
        sys.stderr.write("dlbench check-model %s/%s: %s\n"
                         % (args.task, args.adapter, record["reason"]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
