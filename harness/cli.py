"""The `dlbench` command line. Each command is a thin shell over the module of its name (`bench`:
harness/launch/bench.py, `check-models`: harness/checks/check_models.py); add a command by
writing its module and a function below decorated with @main.command("NAME")."""
import os
import sys

import click

from .core import catalog, paths
from .core.errors import HarnessError
from .core.userinput import (SEED, check_seeds, key_value_pairs, memory_limit, writable_dir)


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
def list_command(runs):
    """List the benchmark images (images/*/Dockerfile) and the tasks each supports."""
    from .images import list
    if runs:
        list.print_runs()
    else:
        list.print_catalog()


@main.command("build")
@click.argument("names", nargs=-1)
@click.option("--all", "all_images", is_flag=True,
              help="every image this machine builds (images/*/Dockerfile; the 2017-era ones "
                   "need CUDA 8 and the internet and are left out)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="builds at a time (two overlap well on a small machine: downloads, "
                   "compiles and layer commits)")
@click.option("--base", help="base image (overrides the Dockerfile's ARG BASE)")
@click.option("--build-arg", "build_args", multiple=True, callback=key_value_pairs,
              metavar="KEY=VALUE",
              help="extra build argument (repeatable), e.g. TORCH_BUILD=cuda")
@click.option("--offline", is_flag=True, help="pip uses the wheelhouse only (no index)")
@click.option("--force", is_flag=True, help="build even when an image of this context exists")
@click.option("-v", "--verbose", is_flag=True, help="show the whole build log")
def build_command(names, all_images, jobs, base, build_args, offline, force, verbose):
    """Build the images NAMES, or --all (each reused when nothing changed)."""
    from .images import build
    if all_images == bool(names):
        raise HarnessError("name the images to build, or give --all (not both): "
                           "`dlbench list` shows them")
    images = ([img for img in catalog.discover() if img.era == "current"] if all_images
              else catalog.lookup(names))
    if jobs == 1 and len(images) == 1:  # errors as they come, one image
        done = build.ensure_built(images[0], base=base, build_args=build_args,
                                  offline=offline, force=force, verbose=verbose)
        outcomes = [(images[0], done)]
    else:
        outcomes = build.ensure_built_all(images, jobs=jobs, base=base,
                                          build_args=build_args, offline=offline,
                                          force=force, verbose=verbose)
    for image, done in outcomes:
        if isinstance(done, build.Built) and not done.built:
            click.echo("%s is up to date (%s)" % (image.name, done.image_id[:19]))
    note = build.dangling_note()
    if note:
        click.echo(note)
    failed = [image.name for image, done in outcomes if not isinstance(done, build.Built)]
    if failed:
        raise HarnessError("%d of %d image(s) not built: %s (the lines above say why)"
                           % (len(failed), len(outcomes), ", ".join(failed)))


def _known_tasks(ctx, param, values):
    """--task values against the task list tasks/ declares (tasks/common/params.py TASKS)."""
    from .core import taskfiles
    known = taskfiles.task_names()
    bad = [v for v in values if v not in known]
    if bad:
        raise click.BadParameter("%s: not a task; the tasks are %s"
                                 % (", ".join(repr(b) for b in bad), ", ".join(known)))
    return values


@main.command("bench")
@click.argument("names", nargs=-1, required=True)
@click.option("-t", "--task", "tasks", multiple=True, callback=_known_tasks,
              help="task to run (repeatable); default: the cnn, rnn and inference tasks the image supports (densenet runs only when named)")
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
                   "least 6m (default: --on local, the host's memory less 1 GiB; recorded in "
                   "each result)")
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
@click.option("--gpus", type=click.IntRange(min=1),
              help="densenet on GPUs: data-parallel replicas, one per GPU [default: every GPU "
                   "the container sees]")
@click.option("--workers", type=click.IntRange(min=1),
              help="densenet on the CPU: data-parallel replicas sharing it [default: 1]")
@click.option("--image-size", type=click.IntRange(min=32),
              help="densenet, quick checks only: crop S instead of 224 (recorded; never "
                   "beside a 2017 figure)")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="densenet: per-device batch instead of 64 (recorded; never beside a 2017 "
                   "figure)")
@click.option("--latency", is_flag=True,
              help="inference: also time requests one by one at batch 1 and 8 after the "
                   "throughput pass (p50/p90/p99 per request; beyond 2017, in the report's "
                   "latency table)")
@click.option("--latency-requests", type=click.IntRange(min=1), default=None,
              help="inference --latency: requests per batch size [default: 50]")
@click.option("--ignore-gpu-guard", is_flag=True,
              help="start GPU runs even on a GPU newer than the image's CUDA drives (the GPU "
                   "guard refuses them otherwise; see harness/runs/gpu_guard.py)")
@click.option("--on", "on", type=click.Choice(["local", "slurm", "kubernetes"]),
              default="local", show_default=True,
              help="where the runs go: this host's engine, one SLURM job per run, or "
                   "Kubernetes Job manifests (--dry-run); see docs/cluster.md")
@click.option("--registry", metavar="HOST[:PORT]",
              help="cluster runs pull the image from this registry by digest (`dlbench push` "
                   "it first); without it the nodes' engines must have the image")
@click.option("--partition", help="SLURM partition of the jobs")
@click.option("--account", help="SLURM account of the jobs")
@click.option("--gpus-per-run", type=click.IntRange(min=0), default=0,
              help="GPUs each run gets (SLURM --gpus-per-node; Kubernetes nvidia.com/gpu)")
@click.option("--time-limit", metavar="TIME",
              help="SLURM time limit per job (minutes, HH:MM:SS, D-HH:MM:SS)")
@click.option("--share-nodes", is_flag=True,
              help="let SLURM put several runs on one node (default: --exclusive, so runs do "
                   "not time each other)")
@click.option("--detach", is_flag=True,
              help="--on slurm: submit, print the run id and return; `dlbench results` "
                   "collects later")
@click.option("--dry-run", is_flag=True,
              help="--on kubernetes: write the manifests, apply nothing")
@click.option("--namespace", default=None,
              help="--on kubernetes: the manifests' namespace  [default: default]")
def bench_command(names, tasks, device, repeat, synthetic, keep_going, timeout, epochs, limit,
                  seed, variants, memory, env, data_dir, results_dir, base, build_args, offline,
                  verbose, gpus, workers, image_size, batch_size, latency, latency_requests,
                  ignore_gpu_guard, on, registry, partition, account, gpus_per_run, time_limit,
                  share_nodes, detach, dry_run, namespace):
    """Build (if needed) the images NAMES and run their tasks, one container per run.

    Results: results/<run_id>/<image>/<task>-r<N>/result.json (+ container.log, events.jsonl).
    Exit status 1 when any run failed. Ctrl-C, SIGTERM and SIGHUP stop it: the running
    container is removed, its result written failed, exit status 128 + the signal (130, 143,
    129)."""
    from .launch import bench
    from .containers import signals
    check_seeds(seed, repeat)
    cluster = _cluster_options(on, registry, partition, account, gpus_per_run, time_limit,
                               share_nodes, detach, dry_run, device, namespace)
    images = catalog.lookup(names)
    opts = bench.BenchOptions(tasks=tasks, device=device, repeat=repeat, synthetic=synthetic,
                              keep_going=keep_going, timeout=timeout or bench.DEFAULT_TIMEOUT,
                              epochs=epochs, limit=limit, seed=seed, variants=variants,
                              memory=memory, env=env, data_dir=data_dir, results_root=results_dir,
                              base=base, build_args=build_args, offline=offline,
                              ignore_gpu_guard=ignore_gpu_guard, gpus=gpus, workers=workers,
                              image_size=image_size, batch_size=batch_size, latency=latency,
                              latency_requests=latency_requests, on=on, registry=registry,
                              slurm=cluster, dry_run=dry_run,
                              namespace=_namespace(namespace))
    writable_dir(opts.results_root, "--results-dir" if results_dir else "results folder")
    with signals.handled():
        try:
            collected = bench.run(images, opts, verbose=verbose)
        except KeyboardInterrupt as stop:  # Ctrl-C, or signals.Stopped for SIGTERM / SIGHUP
            sig = signals.signum_of(stop)
            with signals.held():
                _say("%s: %s; results so far in %s"
                     % (signals.reason(sig), "SLURM jobs cancelled" if on == "slurm"
                        else "containers removed",
                        os.path.join(opts.results_root, opts.run_id)))
            sys.exit(signals.exit_status(sig))
    if collected is None:  # --detach or --dry-run: nothing ran here
        click.echo("run id %s: results in %s"
                   % (opts.run_id, os.path.join(opts.results_root, opts.run_id)))
        return
    failed = [r for r in collected if r.get("status") != "ok"]
    click.echo("%d run(s), %d failed; results in %s" % (
        len(collected), len(failed), os.path.join(opts.results_root, opts.run_id)))
    if failed or not collected:
        sys.exit(1)


def _namespace(namespace):
    """--namespace as a Kubernetes namespace name (given only with --on kubernetes:
    _cluster_options)."""
    from .launch import kube
    return "default" if namespace is None else kube.check_namespace(namespace)


def _cluster_options(on, registry, partition, account, gpus_per_run, time_limit, share_nodes,
                     detach, dry_run, device="auto", namespace=None):
    """The cluster options checked against --on (one line each); a harness.launch.slurm.SlurmOptions."""
    from .images import push
    from .launch import slurm
    slurm_only = [name for name, value in (("--partition", partition), ("--account", account),
                                           ("--time-limit", time_limit),
                                           ("--share-nodes", share_nodes),
                                           ("--detach", detach)) if value]
    if on != "slurm" and slurm_only:
        raise click.UsageError("%s: only with --on slurm" % ", ".join(slurm_only))
    if on == "local" and (gpus_per_run or registry):
        raise click.UsageError("--gpus-per-run and --registry are for --on slurm or --on "
                               "kubernetes")
    kube_only = [name for name, value in (("--dry-run", dry_run), ("--namespace", namespace))
                 if value]
    if on != "kubernetes" and kube_only:
        raise click.UsageError("%s: only with --on kubernetes" % ", ".join(kube_only))
    if gpus_per_run and device == "cpu":
        raise click.UsageError("--gpus-per-run %d asks for GPUs and --device cpu for none: drop "
                               "one" % gpus_per_run)
    if registry:
        push.check_registry(registry)
    if on == "local":
        return None
    return slurm.SlurmOptions(partition=partition, gpus_per_run=gpus_per_run,
                              time_limit=time_limit, account=account, detach=detach,
                              exclusive=not share_nodes)


@main.command("push")
@click.argument("names", nargs=-1, required=True)
@click.option("--registry", metavar="HOST[:PORT]", required=True,
              help="the Docker registry, e.g. localhost:5000")
def push_command(names, registry):
    """Push the built images NAMES to a registry (HOST[:PORT]/dlbench/NAME); prints each
    one's reference by digest, which cluster runs pull (`bench --on slurm --registry`)."""
    from .images import push
    push.check_registry(registry)
    for image in catalog.lookup(names):
        push.push(image, registry, click.echo)


def _say(text):
    """A line on stderr that may find no terminal (after SIGHUP): then the result files say it."""
    try:
        click.echo(text, err=True)
    except OSError:
        pass


@main.group("data")
def data_command():
    """The dataset cache (CIFAR-10, IMDB; ChestX-ray14 when named), mounted read-only at /data
    in the containers."""


@data_command.command("fetch")
@click.argument("datasets", nargs=-1)
@click.option("--dest", type=click.Path(file_okay=False),
              help="cache folder [default: ./data or $DLBENCH_DATA]")
@click.option("--mirror", metavar="URL",
              help="fetch from URL/<file name> instead of the original hosts "
                   "(or $DLBENCH_DATA_MIRROR)")
def data_fetch(datasets, dest, mirror):
    """Download DATASETS (default: cifar10 and imdb) and verify their published checksums; a
    corrupt or partial file is fetched again (and kept as FILE.bad-<time> once a verified copy
    replaces it). chestxray14 (NIH ChestX-ray14, about 45 GB, for densenet) only when named:
    its 12 archives are checked against the NIH's md5s and extracted into DEST/chestxray14/;
    its labels file has no published checksum and is not verified."""
    from .images import data
    data.fetch(list(datasets), dest or paths.data_dir(), mirror=mirror)


@data_command.command("prepare")
@click.argument("dataset", type=click.Choice(["chestxray14"]))
@click.option("--dest", type=click.Path(file_okay=False),
              help="cache folder [default: ./data or $DLBENCH_DATA]; or a folder that holds "
                   "Data_Entry_2017.csv and images/ (as --data-dir)")
@click.option("--size", type=click.IntRange(min=1), default=264, show_default=True,
              help="side of the copies (264: 2017's; a run reads copies of its own resize "
                   "size only)")
@click.option("--image", "image_name", default="pytorch-2.13", show_default=True,
              help="the image whose Pillow resizes (built if needed)")
@click.option("--workers", type=click.IntRange(min=1),
              help="worker processes [default: every CPU the container may use]")
def data_prepare(dataset, dest, size, image_name, workers):
    """Resize ChestX-ray14 once, as 2017 did before training (utils.resize_im: Pillow bilinear
    to 264x264, then RGB): PNG copies in DEST/chestxray14/images-264/ beside the originals
    (never changed), with manifest.json. Resumable: copies already made are kept; a second run
    does nothing. densenet runs read the copies when complete (decode, crop, flip: 2017's
    loaders); without them they resize every original as it is read (not comparable with
    2017's minutes)."""
    from .images import data
    from .containers import signals
    with signals.handled():  # Ctrl-C, SIGTERM, SIGHUP: the container is removed, 128 + signal
        try:
            data.prepare_chestxray(dest or paths.data_dir(), size=size,
                                   image_name=image_name, workers=workers)
        except KeyboardInterrupt as stop:
            sig = signals.signum_of(stop)
            with signals.held():
                _say("%s: preparation stopped, container removed; the copies made so far are "
                     "kept and a rerun resumes" % signals.reason(sig))
            sys.exit(signals.exit_status(sig))


@main.command("results")
@click.option("--results-dir", type=click.Path(file_okay=False),
              help="results root [default: ./results or $DLBENCH_RESULTS]")
def results_command(results_dir):
    """Table of the results under results/.

    First, run containers whose dlbench process died (killed with SIGKILL, ...) are collected:
    one line each, the container stopped and removed, a failed result written for its run."""
    from .runs import orphans
    from .results import results
    from .launch import slurm
    client = orphans.quick_client()
    if client is not None:  # no engine here: the table is still shown
        orphans.sweep(client, click.echo)
    slurm.reconcile(results_dir or paths.results_dir(), click.echo)
    lines = results.table(results_dir)
    if not lines:
        click.echo("no results under %s yet: run `dlbench bench NAME`"
                   % (results_dir or paths.results_dir()))
    for line in lines:
        click.echo(line)


@main.command("report")
@click.option("--results-dir", type=click.Path(file_okay=False),
              help="results root [default: ./results or $DLBENCH_RESULTS]")
@click.option("--out", type=click.Path(file_okay=False), help="where to write the report")
def report_command(results_dir, out):
    """Render the report: these results beside the published 2017 reference numbers."""
    try:
        from .results.report import render_report
    except ImportError as e:
        raise click.ClickException("the report module is not available (%s)" % e)
    from .launch import slurm
    results_dir = results_dir or paths.results_dir()
    slurm.reconcile(results_dir, click.echo)  # detached SLURM benches whose jobs ended
    out_dir = writable_dir(out or results_dir, "--out" if out else "report folder")
    try:
        written = render_report(results_dir, out_dir=out_dir)
    except OSError as e:
        raise HarnessError("cannot write the report into %s: %s"
                           % (out_dir, e.strerror or e))
    for kind, path in sorted((written or {}).items()):
        click.echo("%s: %s" % (kind, path))


# issue 6: pin-rot doctor and vendoring (logic in harness/images/doctor.py, harness/images/vendor.py)
from .images.doctor import doctor_command  # noqa: E402
from .images.vendor import vendor_command, vendor_build_command  # noqa: E402
main.add_command(doctor_command)
main.add_command(vendor_command)
main.add_command(vendor_build_command)

# issue 15: model equivalence (logic in harness/checks/check_models.py)
from .checks.check_models import check_models_command  # noqa: E402
main.add_command(check_models_command)


if __name__ == "__main__":
    sys.exit(main())
