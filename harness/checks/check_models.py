"""`dlbench check-models`: proof that every column runs the network it claims to.

For each (image, variant, task): the task file declares its structure family
(tasks/<task>/<adapter>.py EQUIVALENCE, tasks/common/canonical.py FAMILIES). One random canonical
parameter set is drawn per family (seeded) and its output computed by the numpy reference
(tasks/common/reference.py) on one fixed input batch; every adapter of that family loads the set
inside its own image (tasks/check_model.py, in a container hardened as the benchmark runs are:
no network, read-only mounts, the invoking user's uid), runs the batch in eval mode, and the host
compares its output with the reference (canonical.compare: the one tolerance rule), its
parameter count with the canonical count, and its export of the parameters with what it
imported. Families differ on purpose (each adapter follows its 2017 notebook): outputs of two
families are "not comparable", with the properties that differ as the reason, printed and
recorded. One line per row, a JSON summary (tasks/runtime/check_models.schema.json) in
results/check-models/<id>.json, exit status 1 on any mismatch, failure or unchecked adapter.
"""
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid

import click

from ..images import build
from ..core import catalog, paths, taskfiles
from ..containers import engine, oneshot, testrun
from ..core.errors import HarnessError

SCHEMA_VERSION = 1
SCHEMA_FILE = "check_models.schema.json"  # beside result.schema.json, in tasks/runtime/
DEFAULT_BATCH = 2          # images per batch for cnn and inference
DEFAULT_TIMEOUT = 900      # seconds per container
EQUIVALENCE_FUNCTIONS = ("export_params", "import_params", "outputs")
FAILING = ("mismatch", "failed", "not-checked")
SYMBOL = {"ok": "ok", "mismatch": "MISMATCH", "failed": "FAILED", "not-checked": "NOT CHECKED",
          "not-comparable": "n/c"}


def OUTPUT_TASKS(tasks_root=None):
    """The tasks the check covers: those with a canonical output (common/canonical.py OUTPUT):
    the 2017 tasks and DenseNet-121. A task added without one is not planned, and check-models
    says so."""
    return tuple(taskfiles.common_modules(tasks_root)[0].OUTPUT)


def schema_path(tasks_root=None):
    return os.path.join(tasks_root or paths.tasks_dir(), "runtime", SCHEMA_FILE)


def family_of(decl, variant):
    eq = decl["equivalence"] or {}
    return eq.get("variants", {}).get(variant, eq.get("family"))


def forward_flops(task, family, p, canonical):
    """FLOPS HOOK: per-example forward FLOPs from tasks/measure/flops.py (branch mfu) once it
    exists: (value or None, note). The check computes none of its own."""
    path = os.path.join(paths.tasks_dir(), "measure", "flops.py")
    if not os.path.isfile(path):
        return None, "pending: tasks/measure/flops.py (issue 15, MFU) not in this checkout"
    try:
        flops = taskfiles.import_task_file(path, "dlbench_task_flops")
        structure = None
        if task == "inference":
            spec = canonical.FAMILIES[family]
            structure = {("3x3", "first"): "torchvision", ("1x1", "first"): "stride-on-1x1",
                         ("3x3", "last"): "slim"}.get((spec["stride_conv"], spec["stride_unit"]))
        return int(flops.forward_flops(task, p, structure)), "tasks/measure/flops.py"
    except Exception as e:  # the hook never costs the check
        return None, "tasks/measure/flops.py: %s: %s" % (type(e).__name__, e)


# ---------------------------------------------------------------- the rows to check

class CheckRow(object):
    """One (image, adapter, variant, task) and what became of it."""

    def __init__(self, image, task, variant):
        self.image, self.task, self.variant = image, task, variant
        self.adapter = image.adapter_for(variant)
        self.family = None
        self.record = {"image": image.name, "adapter": self.adapter, "variant": variant,
                       "task": task, "family": None, "status": "failed",
                       "reason": "did not run: the check stopped before it",
                       "output": None, "max_abs_diff": None, "max_rel_diff": None,
                       "tolerance": None, "parameters": None, "canonical_parameters": None,
                       "forward_flops": None, "framework": None, "framework_version": None,
                       "seconds": None}

    @property
    def label(self):
        return "%s %s/%s %s" % (self.image.name, self.adapter, self.variant, self.task)

    def set(self, status, reason=None, **fields):
        self.record.update(fields)
        self.record["status"], self.record["reason"] = status, reason


def plan_rows(images, tasks, variants, echo):
    """Every (image, variant, task) to check. GPU-only variants (TF32, mixed precision: GPU math
    modes) are rows marked not comparable at fp32 tolerance; this check runs on the CPU."""
    rows = []
    covered = set(OUTPUT_TASKS())
    for image in images:
        fws = [taskfiles.load(a) for a in image.adapters]
        for task in image.tasks:
            if tasks and task not in tasks:
                continue
            if task not in covered:  # no canonical family yet (said once, in check)
                continue
            offered = [v for fw in fws for v in fw.variant_names(task)]
            names = [v for v in image.variants if v in offered]
            if variants and "all" not in variants:
                unknown = [v for v in variants if v not in image.variants]
                if unknown:
                    raise HarnessError("%s has no variant %s; it has: %s" % (
                        image.name, ", ".join(unknown), ", ".join(image.variants)))
                names = [v for v in names if v in variants]
            for variant in names:
                row = CheckRow(image, task, variant)
                fw = taskfiles.load(row.adapter)
                row.record["framework"] = fw.name
                if "cpu" not in fw.variant(variant).get("devices", ("cpu",)):
                    row.set("not-comparable", "GPU-only variant (a GPU math mode, TF32 or "
                            "reduced precision): not comparable at fp32 tolerance; not run by "
                            "this CPU check")
                rows.append(row)
    return rows


def images_to_check(names, echo):
    """Named images (built when needed, as `bench` does), or every discovered image that is
    built here; (images, [names not built])."""
    if names:
        images = catalog.lookup(names)
        for image in images:
            build.ensure_built(image, echo=echo)
        return images, []
    found, missing = [], []
    for image in catalog.discover():
        if image.problems(paths.tasks_dir()):
            missing.append(image.name)
            continue
        if engine.local_image(image.tag) is not None:
            found.append(image)
        else:
            missing.append(image.name)
    return found, missing


def not_built_lines(not_built, built):
    """What the check says of the discovered images that are not built here: each is not
    checked; and an adapter that no built image runs (e.g. CNTK when neither cntk-2.7 nor the
    2017 cntk image is built) is a column not run at all, said once per adapter."""
    by_name = dict((i.name, i) for i in catalog.discover())
    runnable = set(a for image in built for a in image.adapters)
    lines, said = [], set()
    for name in not_built:
        lines.append("%s: not built here, not checked (`dlbench build %s`, or name it)"
                     % (name, name))
        image = by_name.get(name)
        for adapter in (image.adapters if image is not None else ()):
            if adapter in runnable or adapter in said:
                continue
            said.add(adapter)
            images = sorted(i.name for i in by_name.values() if adapter in i.adapters)
            fw = taskfiles.load(adapter)
            lines.append("%s (%s): not run: no image built here runs %s (%s not built)"
                         % (adapter, ", ".join(fw.tasks()), fw.name.upper(), ", ".join(images)))
    return lines


# ---------------------------------------------------------------- one container

# Theano compiles C code for every graph, into its compile directory. Unlike benchmark runs
# (each compiles afresh: docs/frameworks.md, Theano), the containers of one check share a compile directory
# per image (a test run's, when it gives one: harness/containers/testrun.py), so an image's second
# variant reuses the first one's modules: the outputs checked do not depend on when the code was
# compiled, and the check stays short.


def run_group(image, adapter, variant, jobs, inputs_dir, out_dir, timeout, cache_dir=None):
    """Run tasks/check_model.py for one (image, adapter, variant) and its jobs [(task, family,
    params file, input file)] in one container (the framework imported once); per task the
    container's check.json (or a failed record when it wrote none) and the output (or None).
    cache_dir: a compile cache the image's containers share (harness/containers/testrun.py)."""
    os.makedirs(out_dir, exist_ok=True)
    cmd = [image.python, "/tasks/check_model.py", "--adapter", adapter, "--variant", variant,
           "--device", "cpu", "--out", "/check/out"]
    for task, family, params_file, input_file in jobs:
        cmd += ["--job", ",".join((task, family, "/check/in/" + os.path.basename(params_file),
                                   "/check/in/" + os.path.basename(input_file)))]
    volumes = {paths.tasks_dir(): {"bind": "/tasks", "mode": "ro"},
               inputs_dir: {"bind": "/check/in", "mode": "ro"},
               out_dir: {"bind": "/check/out", "mode": "rw"}}
    if cache_dir:
        volumes[cache_dir] = {"bind": testrun.CACHE_TARGET, "mode": "rw"}
    done = oneshot.run(
        image.tag, cmd, "check-models", volumes=volumes, writable=[out_dir],
        shared=[cache_dir] if cache_dir else [],
        environment=testrun.cache_environment() if cache_dir else None,
        timeout=timeout * len(jobs), labels={catalog.IMAGE_NAME_LABEL: image.name},
        name="dlbench-check-%s-%s-%s" % (image.name, variant, uuid.uuid4().hex[:6]),
        log_path=os.path.join(out_dir, "container.log"))
    code, log, problem = done.exit_code, done.output, done.problem
    found = {}
    for task, _family, _p, _i in jobs:
        folder = os.path.join(out_dir, task)
        try:
            with open(os.path.join(folder, "check.json")) as f:
                record = json.load(f)
        except (OSError, ValueError) as e:
            tail = (log.strip().splitlines() or ["no output"])[-1]
            found[task] = ({"status": "failed", "reason": problem or "exit %s, no check.json "
                            "(%s): %s" % (code, type(e).__name__, tail[:300])}, None)
            continue
        found[task] = job_output(folder, record)
    return found


def job_output(folder, record):
    """(record, output array or None) of one job: the output a job that says ok wrote in
    folder/outputs.npz; an unreadable one (not a plain array: an object array pickled from a
    framework's own array type) makes the row failed with why, never a traceback."""
    import numpy as np
    if record.get("status") != "ok":
        return record, None
    try:
        with np.load(os.path.join(folder, "outputs.npz")) as f:
            return record, f["output"]
    except (OSError, ValueError, KeyError) as e:
        return dict(record, status="failed", reason="outputs.npz unreadable (%s): %s"
                    % (type(e).__name__, str(e)[:200])), None


# ---------------------------------------------------------------- judging one row

def verdict(adapter, variant, task, record, out, reference_out, canonical_count, canonical):
    """(status, reason, fields) of one adapter from the container's record and output: the
    output against the reference (canonical.compare), the parameter count against the
    canonical count, the export against the import. A mismatch names the adapter, the output
    and the size of the difference."""
    fields = {"framework_version": record.get("framework_version"),
              "parameters": record.get("parameters"), "output": canonical.OUTPUT[task]}
    if record.get("status") == "not-checked":
        return "not-checked", record.get("reason"), fields
    if record.get("status") != "ok":
        return "failed", record.get("reason") or "failed", fields
    cmp = canonical.compare(reference_out, out)
    fields.update(max_abs_diff=cmp["max_abs_diff"], max_rel_diff=cmp["max_rel_diff"],
                  tolerance=cmp["tolerance"])
    what = canonical.OUTPUT[task]
    problems = []
    if cmp["problem"]:
        problems.append("%s: %s" % (what, cmp["problem"]))
    elif not cmp["ok"]:
        problems.append("%s: max abs diff %.3g > tolerance %.3g (max rel diff %.3g)"
                        % (what, cmp["max_abs_diff"], cmp["tolerance"], cmp["max_rel_diff"]))
    if record.get("parameters") != canonical_count:
        problems.append("parameter count %s, canonical %d" % (record.get("parameters"),
                                                              canonical_count))
    export = record.get("export") or {}
    if not export.get("ok", False):
        problems.append("export_params: %s" % "; ".join(export.get("problems") or ["missing"]))
    if problems:
        return "mismatch", "%s (%s): %s" % (adapter, variant, "; ".join(problems)), fields
    return "ok", None, fields


def judge(row, record, out, reference_out, canonical_count, canonical):
    """Set the row's status from the container's record and output (verdict)."""
    status, reason, fields = verdict(row.adapter, row.variant, row.task, record, out,
                                     reference_out, canonical_count, canonical)
    row.set(status, reason, **fields)


def row_line(row):
    r = row.record
    head = "%-11s %s" % (SYMBOL[r["status"]], row.label)
    if r["status"] == "ok":
        return "%s: %s max rel diff %.1e (tolerance %s), %d parameters as canonical" % (
            head, canonical_output(row.task), r["max_rel_diff"], "1e-4 x scale", r["parameters"])
    return "%s: %s" % (head, r["reason"])


def canonical_output(task):
    return {"cnn": "logits", "rnn": "final logits", "inference": "pooled features",
            "densenet": "logits"}[task]


# ---------------------------------------------------------------- the whole check

class CheckOptions(object):
    def __init__(self, tasks=(), variants=("all",), batch=DEFAULT_BATCH, seed=0,
                 timeout=DEFAULT_TIMEOUT, results_root=None, check_id=None):
        self.tasks = tuple(tasks)
        self.variants = tuple(variants) or ("all",)
        self.batch = batch
        self.seed = seed
        self.timeout = timeout
        self.results_root = os.path.abspath(results_root or paths.results_dir())
        self.check_id = check_id or "%s-%s" % (time.strftime("%Y%m%d-%H%M%S"),
                                               uuid.uuid4().hex[:4])


def host_info():
    info = {"machine": platform.machine(), "cpu": None, "load": None, "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        info["load"] = [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        pass
    return info


def check(names, opts, echo=click.echo):
    """Run the check; returns the summary dict (also written under results/check-models/)."""
    canonical, reference = taskfiles.common_modules()
    from ..results import results
    started = results.now_iso()
    images, not_built = images_to_check(names, echo)
    for line in not_built_lines(not_built, images) + uncovered_lines(images, opts.tasks):
        echo(line, err=True)
    rows = plan_rows(images, opts.tasks, opts.variants, echo)
    if not rows:
        raise HarnessError("nothing to check: no image built here has the task(s) asked; "
                           "`dlbench list` shows the images, `dlbench build NAME` builds one")
    task_params = taskfiles.import_task_file(os.path.join(paths.tasks_dir(), "common",
                                                          "params.py"), "dlbench_task_params")
    # the check's own image size where the task's is too costly (canonical.CHECK_INPUT)
    p_of = dict((t, canonical.check_params(t, task_params.for_task(t)))
                for t in set(r.task for r in rows))
    assign_families(rows, canonical)
    root = os.path.join(opts.results_root, "check-models")
    families, not_comparable, batch, shapes = {}, [], {}, {}
    try:
        work = os.path.join(root, opts.check_id)
        os.makedirs(work, exist_ok=True)
        inputs_dir = tempfile.mkdtemp(prefix="inputs-", dir=root)  # parameters: removed at the end
        os.chmod(inputs_dir, 0o755)
        try:
            batch.update({"cnn": opts.batch, "inference": opts.batch, "densenet": opts.batch,
                          "rnn": p_of["rnn"]["batch_size"] if "rnn" in p_of else None})
            input_files = write_inputs(p_of, batch, opts.seed, inputs_dir, canonical, shapes)
            families.update(make_families(rows, p_of, opts.seed, inputs_dir, input_files,
                                          canonical, reference))
            for (name, adapter, variant), members in container_groups(rows):
                jobs = [(r.task, r.family, families[r.family]["params_file"],
                         input_files[r.task]) for r in members]
                found = run_group(members[0].image, adapter, variant, jobs, inputs_dir,
                                  os.path.join(work, name, variant), opts.timeout,
                                  cache_dir=(testrun.cache_dir(name)
                                             or os.path.join(work, name, "cache")))
                for row in members:
                    judge_member(row, families[row.family], found[row.task], canonical)
                    echo(row_line(row))
        finally:
            shutil.rmtree(inputs_dir, ignore_errors=True)
        for row in rows:  # those decided before any container ran
            if row.family is None:
                echo(row_line(row))
        not_comparable.extend(not_comparable_pairs(families, canonical, echo))
    finally:  # interrupted or not, the summary says what ran (rows not run: failed, why)
        summary = write_summary(rows, families, not_comparable, not_built, batch, p_of,
                                started, opts, root, echo, shapes)
    return summary


def uncovered_lines(images, tasks):
    """One line per task of the images that no canonical family covers yet."""
    uncovered = sorted(set(t for img in images for t in img.tasks
                           if t not in OUTPUT_TASKS() and (not tasks or t in tasks)))
    return ["%s: not part of this check (no canonical family for its network yet; the check "
            "covers %s)" % (task, ", ".join(OUTPUT_TASKS())) for task in uncovered]


def assign_families(rows, canonical):
    """Each row's structure family from its task file's declaration, or why it is not checked."""
    for row in rows:
        if row.record["status"] == "not-comparable":
            continue
        decl = taskfiles.declaration(row.task, row.adapter)
        missing = [f for f in EQUIVALENCE_FUNCTIONS if f not in decl["functions"]]
        family = family_of(decl, row.variant)
        if missing:
            row.set("not-checked", "not checked: no %s in tasks/%s/%s.py%s"
                    % (", ".join(missing), row.task, row.adapter,
                       ": " + decl["not_checked"] if decl.get("not_checked") else ""))
        elif family not in canonical.FAMILIES:
            row.set("not-checked", "not checked: tasks/%s/%s.py declares no known family "
                    "(EQUIVALENCE = %r)" % (row.task, row.adapter, decl["equivalence"]))
        else:
            row.family = family
            row.record["family"] = family


def write_inputs(p_of, batch, seed, inputs_dir, canonical, shapes):
    """{task: input file}: each task's fixed input batch, saved for the containers to read;
    shapes[task] gets its shape."""
    import numpy as np
    input_files = {}
    for task in sorted(p_of):
        x = canonical.make_input(task, p_of[task], batch[task], seed)
        input_files[task] = os.path.join(inputs_dir, "input-%s.npz" % task)
        np.savez(input_files[task], x=x)
        shapes[task] = [int(d) for d in x.shape]
        os.chmod(input_files[task], 0o644)
    return input_files


def make_families(rows, p_of, seed, inputs_dir, input_files, canonical, reference):
    """{family: its canonical parameters (saved for the containers), the numpy reference's
    output on the task's input, parameter count and forward FLOPs} for the rows' families."""
    import numpy as np
    families = {}
    for row in rows:
        if row.family is None or row.family in families:
            continue
        p = p_of[row.task]
        prm = canonical.generate(row.family, p, seed)
        path = os.path.join(inputs_dir, "%s.npz" % row.family)
        canonical.save(path, prm)
        os.chmod(path, 0o644)
        with np.load(input_files[row.task]) as f:
            ref = reference.forward(row.family, prm, f["x"], p)
        flops, note = forward_flops(row.task, row.family, p, canonical)
        families[row.family] = {
            "task": row.task, "doc": canonical.FAMILIES[row.family]["doc"],
            "canonical_parameters": canonical.count(prm, row.family),
            "params_file": path,
            "reference": ref, "reference_max_abs": float(np.max(np.abs(ref))),
            "forward_flops": flops, "flops_source": note, "members": []}
    return families


def container_groups(rows):
    """[((image name, adapter, variant), rows)]: one container per group runs its tasks."""
    groups, order = {}, []
    for row in rows:
        if row.family is None:
            continue
        key = (row.image.name, row.adapter, row.variant)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(row)
    return [(key, groups[key]) for key in order]


def judge_member(row, fam, found, canonical):
    """A checked row's record from its container's (record, output) and its family."""
    fam["members"].append("%s/%s" % (row.adapter, row.variant))
    row.record["canonical_parameters"] = fam["canonical_parameters"]
    row.record["forward_flops"] = fam["forward_flops"]
    record, out = found
    row.record["seconds"] = record.get("seconds")
    judge(row, record, out, fam["reference"], fam["canonical_parameters"], canonical)


def not_comparable_pairs(families, canonical, echo):
    """Each pair of a task's families, with why their outputs are not compared."""
    pairs, by_task = [], {}
    for name, fam in sorted(families.items()):
        by_task.setdefault(fam["task"], []).append(name)
    for task, names in sorted(by_task.items()):
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                reason = canonical.not_comparable_reason(a, b)
                pairs.append({"task": task, "families": [a, b], "reason": reason})
                echo("n/c         %s: %s (%s) vs %s (%s): %s" % (
                    task, a, ", ".join(families[a]["members"]), b,
                    ", ".join(families[b]["members"]), reason))
    return pairs


def write_summary(rows, families, not_comparable, not_built, batch, p_of, started, opts, root,
                  echo, shapes=None):
    """Validate and write results/check-models/<id>.json; returns the summary (with path)."""
    canonical, _ = taskfiles.common_modules()
    from ..results import results
    summary = {
        "schema_version": SCHEMA_VERSION, "kind": "check-models", "id": opts.check_id,
        "started": started, "finished": results.now_iso(), "host": host_info(),
        "tolerance": canonical.TOLERANCE_RULE, "seed": opts.seed,
        "batch": dict((t, batch[t]) for t in sorted(p_of) if t in batch),
        "input_shape": dict(shapes or {}),
        "families": dict((k, dict((f, v[f]) for f in ("task", "doc", "canonical_parameters",
                                                      "reference_max_abs", "forward_flops",
                                                      "flops_source", "members")))
                         for k, v in families.items()),
        "not_comparable": not_comparable, "not_built": not_built,
        "rows": [r.record for r in rows],
        "ok": not any(r.record["status"] in FAILING for r in rows),
    }
    problems = results.validate(summary, load_schema())
    if problems:  # a bug here, never the adapters': say so, still write the file
        echo("warning: the summary breaks %s: %s" % (SCHEMA_FILE, "; ".join(problems[:3])),
             err=True)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, opts.check_id + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
    os.rename(path + ".tmp", path)
    summary["path"] = path
    return summary


def load_schema():
    with open(schema_path()) as f:
        return json.load(f)


@click.command("check-models")
@click.argument("names", nargs=-1)
@click.option("-t", "--task", "tasks", multiple=True,
              type=click.Choice(["cnn", "rnn", "inference", "densenet"]),
              help="task to check (repeatable); default: every task of each image")
@click.option("--variant", "variants", multiple=True, default=("all",), show_default=True,
              help="variant to check (repeatable); 'all': every variant each image declares")
@click.option("--batch", type=click.IntRange(min=1, max=64), default=DEFAULT_BATCH,
              show_default=True,
              help="images per batch for cnn, inference and densenet (densenet at 64x64: "
                   "canonical.CHECK_INPUT; rnn: one full batch of 64, the batch TensorFlow's "
                   "trainable initial state fixes)")
@click.option("--seed", type=click.IntRange(min=0, max=2 ** 31 - 1), default=0,
              show_default=True, help="seed of the parameters and the input batch")
@click.option("--timeout", type=click.IntRange(min=1), default=DEFAULT_TIMEOUT,
              show_default=True, help="seconds per container")
@click.option("--results-dir", type=click.Path(file_okay=False),
              help="results root [default: ./results or $DLBENCH_RESULTS]")
def check_models_command(names, tasks, variants, batch, seed, timeout, results_dir):
    """Prove the columns run the same networks: every adapter of each image loads one canonical
    parameter set per structure family, runs a fixed batch in eval mode, and its output is
    compared with the numpy reference (max abs diff <= 1e-4 x max(1, max abs reference)).

    NAMES: images to check (built when needed); default every image built here. Summary:
    results/check-models/<id>.json. Exit status 1 on any mismatch, failure or adapter without
    the equivalence functions."""
    opts = CheckOptions(tasks=tasks, variants=variants, batch=batch, seed=seed, timeout=timeout,
                        results_root=results_dir)
    summary = check(names, opts)
    counts = {}
    for r in summary["rows"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    click.echo("%d row(s): %s; summary %s" % (
        len(summary["rows"]), ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items())),
        os.path.relpath(summary["path"])))
    if not summary["ok"]:
        sys.exit(1)
