"""Where a bench's runs go: the executor seam of harness/launch/bench.py.

Every run is one RunSpec (harness/runs/runspec.py: plain data, JSON). An executor takes them one by
one (add) and ends the bench (finish, close):

* local: this host's Docker engine, now, one run after another (harness/runs/container_run.py); add
  returns the run's result.
* slurm: one sbatch job per run; each job runs the RunSpec on its node (harness/launch/slurm_node.py) through
  the same container_run.run_container. add submits; finish follows the jobs to their end and returns
  their results (None with --detach). See harness/launch/slurm.py.
* kubernetes (--dry-run): add collects; finish writes one Job manifest per run and a
  NetworkPolicy (harness/launch/kube.py), and returns None.

remote_device and image_ref are what a cluster bench decides on the host: the device of the runs
(the host's own GPUs say nothing about the nodes') and the registry reference by digest the
nodes pull (`dlbench push` first)."""
import os

from ..core import catalog
from ..runs import container_run, orphans, runspec
from ..containers import containers, engine, hardening
from ..core.errors import HarnessError

PLACES = ("local", "slurm", "kubernetes")


class Local(object):
    """Runs each RunSpec on this host's engine as soon as it is added."""

    def __init__(self, echo):
        self.echo = echo
        self.tracker = containers.Tracker()
        orphans.sweep(engine.client(), echo)

    def where(self, results):
        return "results in %s" % results

    def add(self, spec):
        return container_run.run_container(runspec.SpecRun(spec), self.tracker, self.echo)

    def finish(self):
        return []

    def close(self):
        self.tracker.remove_all()


class Slurm(object):
    """harness/launch/slurm.py's executor."""

    def __init__(self, opts, run_root, echo):
        from . import slurm
        self.inner = slurm.Executor(opts.slurm or slurm.SlurmOptions(), run_root, echo)
        self.echo, self.run_root, self.opts = echo, run_root, opts

    def where(self, results):
        s = self.inner.sopts
        return "SLURM%s, results in %s" % (" partition " + s.partition if s.partition else "",
                                           results)

    def add(self, spec):
        self.inner.add(spec)
        return None

    def finish(self):
        got = self.inner.finish()
        if got is None:
            self.echo("run id %s: %d job(s) submitted (--detach); follow with `squeue`, then "
                      "`dlbench results` and `dlbench report`"
                      % (self.opts.run_id, len(self.inner.jobs)))
        return got

    def close(self):
        self.inner.abandon("the bench stopped before its jobs ended")


class Kubernetes(object):
    """--on kubernetes --dry-run: the manifests of the runs, written into the run's folder."""

    def __init__(self, opts, run_root, echo):
        if not opts.dry_run:
            raise HarnessError("--on kubernetes writes manifests only: add --dry-run, then "
                               "apply them with `kubectl apply -f` (docs/cluster.md, "
                               "\"Kubernetes\")")
        self.opts, self.run_root, self.echo = opts, run_root, echo
        self.specs = []

    def where(self, results):
        return "manifests in %s" % os.path.relpath(self.run_root)

    def add(self, spec):
        gpus = self.opts.slurm.gpus_per_run if self.opts.slurm is not None else 0
        if spec.gpus:
            spec.gpus = gpus or 1
        # the Job's hostPath (type Directory) must exist, writable for the pod's uid
        hardening.prepare_results_dir(spec.dir, spec.hardening["user"])
        self.specs.append(spec)
        return None

    def finish(self):
        from . import kube
        path, docs = kube.write_manifests(self.specs, self.run_root, self.opts.namespace)
        self.echo("%d Job manifest(s) and a NetworkPolicy: %s (dry run: nothing applied)"
                  % (len(self.specs), path))
        return None

    def close(self):
        pass


def make(opts, run_root, echo):
    if opts.on == "local":
        if opts.registry:
            raise HarnessError("--registry is for runs on a cluster (--on slurm or --on "
                               "kubernetes): a local bench runs the image built here")
        return Local(echo)
    if opts.on == "slurm":
        return Slurm(opts, run_root, echo)
    if opts.on == "kubernetes":
        return Kubernetes(opts, run_root, echo)
    raise HarnessError("--on %s: one of %s" % (opts.on, ", ".join(PLACES)))


def remote_device(image, image_obj, opts):
    """The device of a cluster bench's runs: gpu with --device gpu or GPUs per run (the image
    must be built with CUDA), else cpu. The host cannot see the nodes' GPUs, so --device auto
    without --gpus-per-run is cpu."""
    gpus = opts.slurm.gpus_per_run if opts.slurm is not None else 0
    if opts.device == "gpu" or gpus:
        cuda = (image_obj.labels or {}).get(catalog.label_key("cuda"), "none")
        if cuda in ("", "none"):
            raise HarnessError("%s was built without CUDA (label org.dlbench.cuda=none): build "
                               "its CUDA variant (see images/%s/Dockerfile) or run without "
                               "GPUs" % (image.name, image.name))
        if opts.slurm is not None and not opts.slurm.gpus_per_run:
            opts.slurm.gpus_per_run = 1
        return "gpu"
    return "cpu"


def image_ref(image, image_obj, opts):
    """REPO@sha256:... in opts.registry (after `dlbench push`), or None without --registry."""
    if not opts.registry:
        return None
    from ..images import push
    return push.pushed_ref(image, image_obj, push.check_registry(opts.registry))
