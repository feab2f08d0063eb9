"""What a SLURM job runs on its node: `python3 -m harness.launch.slurm_node RUNFILE`.

RUNFILE is a run's description (harness/runs/runspec.py RunSpec, written by the host). The node gets
the image (pulls the registry reference by digest and refuses another image, or finds the image
id on its engine when the run names no registry), then runs the container exactly as the local
path does (harness/runs/container_run.py: hardening, mounts, timeout, result written whatever happens) on
the node's Docker engine, the results folder on the filesystem the nodes share. Its provenance
gets the node's name (as `host` too), the job id and the partition, and the node's engine
version and GPU driver.

SIGTERM (scancel, a time limit: SLURM signals the job before it kills it) stops the run like a
stop signal stops a local bench: the container is killed and removed, the result written failed;
the host later adds SLURM's reason (harness/launch/slurm.py). Exit status: 0 when the run is ok, 1 when
it failed, 128 + the signal after a stop."""
import os
import sys

import click

from ..runs import container_run, runspec
from ..containers import containers, engine, signals
from ..images import push
from ..results import results
from ..core.errors import HarnessError


def node_prov(spec):
    prov = runspec.node_provenance()
    try:
        prov["docker_version"] = engine.version()
    except Exception:
        prov["docker_version"] = None
    prov["gpu_driver"] = engine.host_gpu_driver()
    if spec.image_ref:
        prov["image_digest"] = spec.image_ref
    return prov


def ensure_image(spec, client):
    """The run's image on this node's engine, or HarnessError (one line)."""
    if spec.image_ref:
        return push.pull_checked(spec.image_ref, spec.image_id, client)
    try:
        return client.images.get(spec.image_id)
    except Exception:
        raise HarnessError("image %s (%s) is not on this node's Docker engine: push it "
                           "(`dlbench push %s --registry HOST`) and bench with --registry HOST"
                           % (spec.image_id[:19], spec.image_name, spec.image_name))


def write_failed(run, reason, exit_code):
    result = container_run.failed_result(run, reason, exit_code, results.now_iso())
    container_run.record(run, result, 0.0)
    return result


def run_file(path, echo=click.echo):
    """Run the RunSpec in path; returns the result written."""
    spec = runspec.RunSpec.read(path)
    gpus = os.environ.get("SLURM_JOB_GPUS") or os.environ.get("SLURM_STEP_GPUS")
    run = runspec.SpecRun(spec, node_prov(spec),
                          gpu_ids=[g for g in gpus.split(",") if g] if gpus else None)
    echo("dlbench node: %s on %s" % (run.label, run.prov.get("host")))
    try:
        ensure_image(spec, engine.client())
    except HarnessError as e:
        write_failed(run, e.message, None)
        raise
    tracker = containers.Tracker()
    try:
        return container_run.run_container(run, tracker, echo)
    finally:
        with signals.held():
            tracker.remove_all()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        click.echo("usage: python3 -m harness.launch.slurm_node RUNFILE (a run.json written by "
                   "`dlbench bench --on slurm`)", err=True)
        return 2
    with signals.handled():
        try:
            result = run_file(argv[0])
        except HarnessError as e:
            click.echo("error: %s" % e.message, err=True)
            return 1
        except (OSError, ValueError) as e:
            click.echo("error: cannot read the run description %s: %s" % (argv[0], e), err=True)
            return 1
        except KeyboardInterrupt as stop:
            sig = signals.signum_of(stop)
            click.echo("dlbench node: %s: container removed, result written failed"
                       % signals.reason(sig), err=True)
            return signals.exit_status(sig)
    click.echo("dlbench node: %s %s" % (result.get("status"), result.get("reason") or ""))
    return 0 if result.get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
