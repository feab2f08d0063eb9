"""The `dlbench` command line. Each command is a thin shell over one module; add a command by
writing a function below (or in its own module) and decorating it with @main.command()."""
import os
import sys

import click

from . import catalog, paths
from .errors import HarnessError
from .options import (SEED, check_seeds, key_value_pairs, memory_limit, writable_dir)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlbench")
def main():
    """dlbench: the same deep-learning benchmarks in every framework, one Docker image each.

    Typical use: `dlbench list`, then `dlbench bench pytorch-2.13 --synthetic`, then
    `dlbench results` and `dlbench report`."""


@main.command("list")
@click.option("--runs", is_flag=True,
              help="one 'IMAGE ADAPTER VARIANT' line per variant of each image built here "
                   "(for scripts)")
def list_images(runs):
    """List the benchmark images (images/*/Dockerfile) and the tasks each supports."""
    from . import listing
    if runs:
        listing.print_runs()
    else:
        listing.print_catalog()


@main.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--base", help="base image (overrides the Dockerfile's ARG BASE)")
@click.option("--build-arg", "build_args", multiple=True, callback=key_value_pairs,
              metavar="KEY=VALUE",
              help="extra build argument (repeatable), e.g. TORCH_BUILD=cuda")
@click.option("--offline", is_flag=True, help="pip uses the wheelhouse only (no index)")
@click.option("--force", is_flag=True, help="build even when an image of this context exists")
@click.option("-v", "--verbose", is_flag=True, help="show the whole build log")
def build(names, base, build_args, offline, force, verbose):
    """Build the images NAMES (reused when nothing changed)."""
    from . import build as builder
    for image in catalog.lookup(names):
        done = builder.ensure_built(image, base=base, build_args=build_args, offline=offline,
                                    force=force, verbose=verbose)
        if not done.built:
            click.echo("%s is up to date (%s)" % (image.name, done.image_id[:19]))


def _known_tasks(ctx, param, values):
    """--task values against the task list tasks/ declares (tasks/common/params.py TASKS)."""
    from . import frameworks
    known = frameworks.task_names()
    bad = [v for v in values if v not in known]
    if bad:
        raise click.BadParameter("%s: not a task; the tasks are %s"
                                 % (", ".join(repr(b) for b in bad), ", ".join(known)))
    return values


@main.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-t", "--task", "tasks", multiple=True, callback=_known_tasks,
              help="task to run (repeatable); default: every task the image supports")
@click.option("--device", type=click.Choice(["cpu", "gpu", "auto"]), default="auto",
              show_default=True, help="auto: the GPU when the host and the image both have one")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="runs of each task, one container each")
@click.option("--synthetic", is_flag=True,
              help="synthetic data of the real shapes (speed only; labelled in every result)")
@click.option("--keep-going", is_flag=True, help="go on after a failed build or run")
@click.option("--timeout", type=click.IntRange(min=1), default=None,
              help="seconds per run before its container is killed [default: 6 h]")
@click.option("--epochs", type=click.IntRange(min=1), help="override the reference epochs")
@click.option("--limit", type=click.IntRange(min=1), help="first N examples of each split")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="random seed of repeat 1 (repeat N: seed + N - 1); 0 .. 2**32-1")
@click.option("--variant", "variants", multiple=True,
              help="variant to run (repeatable); 'all': every variant each image declares")
@click.option("--memory", callback=memory_limit,
              help="container memory limit, e.g. 8g: a number with a unit b, k, m or g, at "
                   "least 6m (default: none)")
@click.option("-e", "--env", multiple=True, callback=key_value_pairs, metavar="KEY=VALUE",
              help="environment variable for the run, e.g. OMP_NUM_THREADS=4 (recorded: "
                   "provenance.user_env of each result)")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="dataset cache [default: ./data or $DLBENCH_DATA]")
@click.option("--results-dir", type=click.Path(file_okay=False),
              help="results root [default: ./results or $DLBENCH_RESULTS]")
@click.option("--base", help="base image for builds (overrides ARG BASE)")
@click.option("--build-arg", "build_args", multiple=True, callback=key_value_pairs,
              metavar="KEY=VALUE",
              help="build argument (repeatable)")
@click.option("--offline", is_flag=True, help="builds use the wheelhouse only")
@click.option("-v", "--verbose", is_flag=True, help="show the whole build log")
@click.option("--ignore-gpu-guard", is_flag=True,
              help="start GPU runs even on a GPU newer than the image's CUDA drives (the GPU "
                   "guard refuses them otherwise; see harness/gpu_guard.py)")
def bench(names, tasks, device, repeat, synthetic, keep_going, timeout, epochs, limit, seed,
          variants, memory, env, data_dir, results_dir, base, build_args, offline, verbose,
          ignore_gpu_guard):
    """Build (if needed) the images NAMES and run their tasks, one container per run.

    Results: results/<run_id>/<image>/<task>-r<N>/result.json (+ container.log, events.jsonl).
    Exit status 1 when any run failed. Ctrl-C, SIGTERM and SIGHUP stop it: the running
    container is removed, its result written failed, exit status 128 + the signal (130, 143,
    129)."""
    from . import runner, signals
    check_seeds(seed, repeat)
    images = catalog.lookup(names)
    opts = runner.Options(tasks=tasks, device=device, repeat=repeat, synthetic=synthetic,
                          keep_going=keep_going, timeout=timeout or runner.DEFAULT_TIMEOUT,
                          epochs=epochs, limit=limit, seed=seed, variants=variants,
                          memory=memory, env=env, data_dir=data_dir, results_root=results_dir,
                          base=base, build_args=build_args, offline=offline,
                          ignore_gpu_guard=ignore_gpu_guard)
    writable_dir(opts.results_root, "--results-dir" if results_dir else "results folder")
    with signals.handled():
        try:
            collected = runner.bench(images, opts, verbose=verbose)
        except KeyboardInterrupt as stop:  # Ctrl-C, or signals.Stopped for SIGTERM / SIGHUP
            sig = signals.signum_of(stop)
            with signals.held():
                _say("%s: containers removed; results so far in %s"
                     % (signals.reason(sig), os.path.join(opts.results_root, opts.run_id)))
            sys.exit(signals.exit_status(sig))
    failed = [r for r in collected if r.get("status") != "ok"]
    click.echo("%d run(s), %d failed; results in %s" % (
        len(collected), len(failed), os.path.join(opts.results_root, opts.run_id)))
    if failed or not collected:
        sys.exit(1)


def _say(text):
    """A line on stderr that may find no terminal (after SIGHUP): then the result files say it."""
    try:
        click.echo(text, err=True)
    except OSError:
        pass


@main.group("data")
def data_group():
    """The dataset cache (CIFAR-10, IMDB), mounted read-only at /data in the containers."""


@data_group.command("fetch")
@click.argument("datasets", nargs=-1)
@click.option("--dest", type=click.Path(file_okay=False),
              help="cache folder [default: ./data or $DLBENCH_DATA]")
@click.option("--mirror", metavar="URL",
              help="fetch from URL/<file name> instead of the original hosts "
                   "(or $DLBENCH_DATA_MIRROR)")
def data_fetch(datasets, dest, mirror):
    """Download DATASETS (default: all) and verify their published checksums; a corrupt or
    partial file is fetched again (and kept as FILE.bad-<time> once a verified copy replaces
    it)."""
    from . import datacache
    datacache.fetch(list(datasets), dest or paths.data_dir(), mirror=mirror)


@main.command("results")
@click.option("--results-dir", type=click.Path(file_okay=False),
              help="results root [default: ./results or $DLBENCH_RESULTS]")
def results_cmd(results_dir):
    """Table of the results under results/.

    First, run containers whose dlbench process died (killed with SIGKILL, ...) are collected:
    one line each, the container stopped and removed, a failed result written for its run."""
    from . import orphans, results
    client = orphans.quick_client()
    if client is not None:  # no engine here: the table is still shown
        orphans.sweep(client, click.echo)
    lines = results.table(results_dir)
    if not lines:
        click.echo("no results under %s yet: run `dlbench bench NAME`"
                   % (results_dir or paths.results_dir()))
    for line in lines:
        click.echo(line)


@main.command()
@click.option("--results-dir", type=click.Path(file_okay=False),
              help="results root [default: ./results or $DLBENCH_RESULTS]")
@click.option("--out", type=click.Path(file_okay=False), help="where to write the report")
def report(results_dir, out):
    """Render the report: these results beside the published 2017 reference numbers."""
    try:
        from .report import render_report
    except ImportError as e:
        raise click.ClickException("the report module is not available (%s)" % e)
    results_dir = results_dir or paths.results_dir()
    out_dir = writable_dir(out or results_dir, "--out" if out else "report folder")
    try:
        written = render_report(results_dir, out_dir=out_dir)
    except OSError as e:
        raise HarnessError("cannot write the report into %s: %s"
                           % (out_dir, e.strerror or e))
    for kind, path in sorted((written or {}).items()):
        click.echo("%s: %s" % (kind, path))


# issue 6: pin-rot doctor and vendoring (logic in harness/doctor.py, harness/vendor.py)
from .doctor import doctor_command  # noqa: E402
from .vendor import vendor_command, vendor_build_command  # noqa: E402
main.add_command(doctor_command)
main.add_command(vendor_command)
main.add_command(vendor_build_command)

# issue 15: model equivalence (logic in harness/equivalence.py)
from .equivalence import check_models_command  # noqa: E402
main.add_command(check_models_command)


if __name__ == "__main__":
    sys.exit(main())
