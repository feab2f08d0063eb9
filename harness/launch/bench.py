"""`dlbench bench`: one container per (image, task, variant, repeat), each with the tasks mounted
read-only at /tasks, the data cache read-only at /data, its own results folder writable at
/results, no network, the hardening of harness/containers/hardening.py (an unprivileged uid, no
capabilities, a read-only root, pids and log limits), a timeout; its output streamed to a progress
display and saved; its result collected, validated against the schema and given provenance.
A run that dies without a result (killed, timed out, out of memory) still gets one (failed).

This module is the orchestration: the options, the checks before anything runs, the device of
each image (and the GPU guard), the runs and their order. One run's container, from start to
written result.json, is harness/runs/container_run.py; the container lifecycle (tracking, following the
output, waiting, killing) is harness/containers/containers.py; the stop signals (Ctrl-C, SIGTERM, SIGHUP)
are harness/containers/signals.py; containers whose dlbench died are collected by harness/runs/orphans.py
before a bench starts anything."""
import json
import os
import time
import uuid

import click

from ..images import build, data
from ..core import catalog, paths, taskfiles
from ..containers import engine, hardening, signals, testrun
from ..results import results
from ..runs import gpu_guard, orphans, provenance, runspec
from ..core.errors import HarnessError

DEFAULT_TIMEOUT = 6 * 3600  # seconds per run: the full CNN on a slow CPU takes hours


DENSENET_SHM = "2g"


class BenchOptions(object):
    """What `dlbench bench` was asked to do (kept in one object so it is easy to extend)."""

    def __init__(self, tasks=(), device="auto", repeat=1, synthetic=False, keep_going=False,
                 timeout=DEFAULT_TIMEOUT, epochs=None, limit=None, seed=0, variants=(),
                 memory=None, env=None, data_dir=None, results_root=None, base=None,
                 build_args=None, offline=False, run_id=None, ignore_gpu_guard=False,
                 gpus=None, workers=None, image_size=None, batch_size=None,
                 latency=False, latency_requests=None, on="local", registry=None, slurm=None, dry_run=False, namespace="default"):
        self.tasks = tuple(tasks)
        self.device = device
        self.repeat = repeat
        self.synthetic = synthetic
        self.keep_going = keep_going
        self.timeout = timeout
        self.epochs = epochs
        self.limit = limit
        self.seed = seed
        self.variants = tuple(variants)
        # a local run without --memory gets the host's memory less a reserve, so a run that
        # grows without bound is killed with a reason instead of taking the host down
        self.memory_source = "--memory" if memory else None
        if not memory and on == "local":
            memory = default_memory()
            self.memory_source = "default: the host's memory less 1 GiB" if memory else None
        self.memory = memory
        self.env = dict(env or {})
        self.data_dir = os.path.abspath(data_dir or paths.data_dir())
        self.results_root = os.path.abspath(results_root or paths.results_dir())
        self.base = base
        self.build_args = dict(build_args or {})
        self.offline = offline
        self.ignore_gpu_guard = ignore_gpu_guard
        # densenet only: data-parallel replicas (GPUs, or CPU workers) and the test-size knobs
        self.gpus = gpus
        self.workers = workers
        self.image_size = image_size
        self.batch_size = batch_size
        # inference only: request latency at batch 1 and 8 after the throughput pass
        self.latency = latency or latency_requests is not None
        self.latency_requests = latency_requests
        self.run_id = run_id or "%s-%s" % (time.strftime("%Y%m%d-%H%M%S"), uuid.uuid4().hex[:4])
        # where the runs go (harness/launch/executors.py): local (this engine), slurm (one job per
        # run; slurm: a harness.launch.slurm.SlurmOptions) or kubernetes (dry_run: manifests only)
        self.on = on
        self.registry = registry
        self.slurm = slurm
        self.dry_run = dry_run
        self.namespace = namespace


def default_memory(meminfo="/proc/meminfo", reserve_mib=1024):
    """The default memory limit of a local run ("<MiB>m"): the host's MemTotal less reserve_mib
    (at least half of it); None where the host does not say (no /proc/meminfo)."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    total_mib = int(line.split()[1]) // 1024
                    return "%dm" % max(total_mib - reserve_mib, total_mib // 2)
    except (OSError, ValueError, IndexError):
        pass
    return None


# ---------------------------------------------------------------- checks before anything runs

def check_request(images, opts, echo=click.echo):
    """Every argument error, before any build or run: one line, what to do. With --device gpu
    every run is a GPU run, so the GPU guard runs here too, before anything is built."""
    for image in images:
        problems = image.problems(paths.tasks_dir())
        if problems:
            raise HarnessError("images/%s/Dockerfile: %s" % (image.name, "; ".join(problems)))
        bad = [t for t in opts.tasks if t not in image.tasks]
        if bad:
            raise HarnessError("%s has no task %s; it supports: %s"
                               % (image.name, ", ".join(bad), ", ".join(image.tasks)))
        badv = [v for v in opts.variants if v != ALL_VARIANTS and v not in image.variants]
        if badv:
            raise HarnessError("%s has no variant %s; it has: %s"
                               % (image.name, ", ".join(badv), ", ".join(image.variants)))
        if opts.device == "gpu" and "gpu" not in image.devices:
            raise HarnessError("%s runs on %s only; use --device cpu"
                               % (image.name, ",".join(image.devices)))
    if opts.device == "gpu" and opts.on == "local":
        if not engine.has_gpu_runtime():
            raise HarnessError("--device gpu, but this host's Docker engine has no NVIDIA GPU "
                               "runtime: install the NVIDIA driver and nvidia-container-toolkit "
                               "(then restart dockerd), or use --device cpu")
        for image in images:
            _guard_gpu(image, opts, echo)
    if not opts.synthetic:
        needed = set()
        for image in images:
            needed.update(tasks_to_run(image, opts))
        missing = data.missing_for(sorted(needed), opts.data_dir)
        if missing:
            raise HarnessError("no %s in %s: run `dlbench data fetch` (or pass --synthetic for "
                               "a speed-only run on synthetic data)"
                               % (", ".join(d.filename for d in missing), opts.data_dir))


def resolve_device(image, image_obj, requested):
    """cpu or gpu for this image: auto takes the GPU when the host and the build both can."""
    cuda = (image_obj.labels or {}).get(catalog.label_key("cuda"), "none")
    built_cuda = cuda not in ("", "none")
    if requested == "gpu":
        if not built_cuda:
            raise HarnessError("%s was built without CUDA (label org.dlbench.cuda=none): build "
                               "its CUDA variant (see images/%s/Dockerfile) or use --device cpu"
                               % (image.name, image.name))
        return "gpu"
    if requested == "auto":
        if built_cuda and "gpu" in image.devices and engine.has_gpu_runtime():
            return "gpu"
    return "cpu"


def device_for(image, image_obj, opts, echo=click.echo):
    """On a cluster (opts.on slurm or kubernetes): executors.remote_device. Here: The device of this image's runs (resolve_device), and the GPU guard for a GPU one,
    whatever --device said: --device auto on a GPU host must not start an image too old for the
    GPU. (--device gpu was guarded in check_request, before the build.)"""
    if opts.on != "local":
        from . import executors
        return executors.remote_device(image, image_obj, opts)
    device = resolve_device(image, image_obj, opts.device)
    if device == "gpu" and opts.device != "gpu":
        _guard_gpu(image, opts, echo)
    return device


def _guard_gpu(image, opts, echo):
    """harness/runs/gpu_guard.py: refuse (one line) an image whose CUDA cannot drive this host's GPU,
    or only warn with --ignore-gpu-guard."""
    gpu_guard.guard(image, ignore=opts.ignore_gpu_guard, echo=lambda m: echo(m, err=True))


# ---------------------------------------------------------------------- one container, one run

# The host's powercap tree (RAPL counters). /sys/class/powercap holds symlinks into
# /sys/devices/virtual/powercap, which Docker masks inside containers, so the real folder is
# mounted, read-only, where tasks/measure/energy.py looks first. Counters readable by root only
# (the usual case since the 2020 PLATYPUS advisory) stay unreadable to the run's unprivileged
# user: the result then says energy is absent, and why.
POWERCAP_HOST = "/sys/devices/virtual/powercap"
POWERCAP_MOUNT = "/dlbench/powercap"


def powercap_dir(path=POWERCAP_HOST):
    """The host's powercap folder to mount, or None where the host has none."""
    return path if os.path.isdir(path) else None


class Run(object):
    """One run: one container of image for (task, variant, repeat) on device; its results
    folder, the command inside the container, and the container's arguments."""

    def __init__(self, image, image_obj, task, variant, repeat, device, opts, prov):
        self.image, self.image_obj = image, image_obj
        self.task, self.variant, self.repeat, self.device = task, variant, repeat, device
        self.adapter = image.adapter_for(variant)  # the image's adapter declaring the variant
        self.opts, self.prov = opts, prov
        self.dir = os.path.join(opts.results_root, opts.run_id, image.name,
                                results.run_folder(task, variant, repeat))
        self.result_path = os.path.join(self.dir, "result.json")
        self.log_path = os.path.join(self.dir, "container.log")
        self.events_path = os.path.join(self.dir, "events.jsonl")
        self.label = "%s %s%s r%d" % (image.name, task,
                                      "" if variant == "reference" else "/" + variant, repeat)

    @property
    def source(self):
        return "synthetic" if (self.opts.synthetic or self.task == "inference") else "real"

    def command(self):
        o = self.opts
        cmd = [self.image.python, "/tasks/run.py", self.task, "--framework", self.adapter,
               "--variant", self.variant, "--device", self.device]
        if self.task != "inference":
            inside = "/data"
            if self.task == "densenet":  # DIR/chestxray14/ (dlbench data fetch), or DIR itself
                inside = "/data/" + data.chestxray_subfolder(o.data_dir)
            cmd += ["--synthetic"] if o.synthetic else ["--data", inside.rstrip("/")]
        if o.epochs is not None and self.task != "inference":
            cmd += ["--epochs", str(o.epochs)]
        if o.limit is not None:
            cmd += ["--limit", str(o.limit)]
        if o.latency and self.task == "inference":
            cmd += ["--latency"]
            if o.latency_requests is not None:
                cmd += ["--latency-requests", str(o.latency_requests)]
        if self.task == "densenet":
            if o.gpus is not None and self.device == "gpu":
                cmd += ["--gpus", str(o.gpus)]
            if o.workers is not None and self.device == "cpu":
                cmd += ["--workers", str(o.workers)]
            if o.image_size is not None:
                cmd += ["--image-size", str(o.image_size)]
            if o.batch_size is not None:
                cmd += ["--batch-size", str(o.batch_size)]
        cmd += ["--seed", str(o.seed + self.repeat - 1), "--out", "/results/result.json"]
        return cmd

    def spec(self):
        """This run as plain data (harness/runs/runspec.py RunSpec): what every executor runs. The
        image is the id the host built; image_ref (registry@digest) is set by a bench with
        --registry (harness/images/push.py)."""
        o = self.opts
        mounts = [runspec.mount(paths.tasks_dir(), "/tasks", True),
                  runspec.mount(self.dir, "/results", False)]
        if os.path.isdir(o.data_dir):
            mounts.append(runspec.mount(o.data_dir, "/data", True))
        powercap = powercap_dir()
        if powercap:  # RAPL energy counters, read-only (tasks/measure/energy.py)
            mounts.append(runspec.mount(powercap, POWERCAP_MOUNT, True))
        env = o.env
        shared = testrun.cache_dir(self.image.name)
        if shared:  # a test run's containers share compile caches (harness/containers/testrun.py)
            mounts.append(runspec.mount(shared, testrun.CACHE_TARGET, False))
            env = testrun.cache_environment(env)
        return runspec.RunSpec(
            image_id=self.image_obj.id, image_ref=None, image_name=self.image.name,
            # as the run's folder: <task>[-<variant>]-r<N> (two variants' runs never share one)
            name="dlbench-%s-%s-%s" % (o.run_id, self.image.name, os.path.basename(self.dir)),
            command=self.command(), mounts=mounts,
            hardening=hardening.settings(environment=env), memory=o.memory,
            gpus=-1 if self.device == "gpu" else 0,
            labels=runspec.run_labels(o.run_id, self.image.name, self.task),
            timeout=o.timeout, task=self.task, adapter=self.adapter, variant=self.variant,
            device=self.device, source=self.source, repeat=self.repeat, label=self.label,
            run_id=o.run_id, results_root=o.results_root, dir=self.dir, prov=self.prov,
            # torch's DataLoader workers hand their batches over in /dev/shm (a 224x224 batch
            # of 64 is 38 MB; 6 workers keep 2 each in flight): Docker's default 64 MB is not
            # enough for densenet (the workers die with a bus error)
            shm_size=DENSENET_SHM if self.task == "densenet" else None)

    def container_args(self):
        """The container's arguments: hardening.settings() (user, no capabilities, read-only
        root with a tmpfs at /tmp, pids and log limits, no network) plus this run's image,
        command, mounts and labels, all from spec() (the one description every executor
        runs). Hands the results folder to the container's user when that is not the caller
        (hardening.prepare_results_dir)."""
        return runspec.SpecRun(self.spec()).container_args()

    def create_args(self):
        """container_args() with the labels that name the dlbench process running this run and
        its result folder (harness/runs/orphans.py: a later dlbench collects the container should
        this one die), for the engine's containers.create."""
        args = self.container_args()
        args["labels"] = dict(args.get("labels") or {}, **orphans.owner_labels(self))
        return args


def tasks_to_run(image, opts):
    """--task as given; none given: the image's tasks among the default ones
    (tasks/common/params.py DEFAULT_TASKS: densenet only when named)."""
    if opts.tasks:
        return list(opts.tasks)
    default = taskfiles.default_task_names()
    return [t for t in image.tasks if t in default]


ALL_VARIANTS = "all"


def variants_to_run(image, asked, task=None, device=None):
    """--variant all: every variant of the image that its framework modules run for this task
    (PyTorch's tuned variant has no RNN) and device (TF32 and mixed precision are GPU-only);
    none asked: the image's first (reference). A variant asked by name that cannot run on the
    device is refused before anything runs. An image may have several adapters: each variant
    is the one of the adapter declaring it (catalog.Image.adapter_for)."""
    fws = [taskfiles.load(a) for a in image.adapters]
    if ALL_VARIANTS in asked:
        offered = [v for fw in fws for v in fw.variant_names(task, device)]
        return [v for v in image.variants if v in offered]
    if device is not None:
        elsewhere = [v for v in asked
                     if not any(v in fw.variant_names(device=device) for fw in fws)]
        if elsewhere:
            fw = taskfiles.load(image.adapter_for(elsewhere[0]))
            devices = (fw.variant(elsewhere[0]) or {}).get("devices") or ["?"]
            raise HarnessError("variant %s of %s runs on %s only, and this run is on %s: use "
                               "--device %s or another variant"
                               % (elsewhere[0], image.name, " and ".join(devices), device,
                                  devices[0]))
    return list(asked) or list(image.variants[:1])


# ------------------------------------------------------------------------------- the whole bench

def _shown(path):
    """A path as the user would type it: relative under the current folder, else absolute."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


PEAK_ENV = "DLBENCH_PEAK"  # tasks/run.py's: a peak measured earlier in this bench


def hand_on_peak(spec, peak):
    """The peak probe runs once per (image, adapter, variant, device) in a bench: a later run
    gets the first one's record (tasks/run.py reused_peak records it as reused, from which
    run); a local bench only (the runs of one host)."""
    if peak is not None:
        spec.hardening["environment"] = dict(spec.hardening.get("environment") or {},
                                             **{PEAK_ENV: json.dumps(peak, sort_keys=True)})


def keep_peak(peaks, key, result, run, opts):
    """Keep the run's own peak record (not one it reused) for the later runs of its key: the
    first, or a higher one a later run measured (tasks/run.py check_peak probes again when a
    run beat the peak it was handed)."""
    peak = result.get("peak")
    if isinstance(peak, dict) and peak.get("gflops") and not peak.get("reused") and (
            key not in peaks or peak["gflops"] > peaks[key]["gflops"]):
        peaks[key] = dict(peak, run=os.path.relpath(run.dir, opts.results_root))


def run(images, opts, echo=click.echo, verbose=False):
    """Build (or reuse) each image and run its tasks; returns the list of results (None for a
    bench that only submitted or wrote its runs: --detach, --dry-run). Each run is described
    once (Run.spec(), harness/runs/runspec.py) and handed to the executor of opts.on
    (harness/launch/executors.py). Before a local bench, the run containers of dlbench processes that
    died are collected (harness/runs/orphans.py)."""
    from . import executors
    check_request(images, opts, echo)
    run_root = os.path.join(opts.results_root, opts.run_id)
    executor = executors.make(opts, run_root, echo)
    collected = []
    peaks = {}  # (image id, adapter, variant, device) -> the first run's peak record
    try:
        for image in images:
            try:
                built = build.ensure_built(image, base=opts.base, build_args=opts.build_args,
                                           offline=opts.offline, verbose=verbose, echo=echo,
                                           results_root=opts.results_root)
            except HarnessError as e:
                if not opts.keep_going:
                    raise
                echo("%s: %s (skipped, --keep-going)" % (image.name, e.message), err=True)
                continue
            image_obj = engine.client().images.get(built.image_id)
            device = device_for(image, image_obj, opts, echo)
            ref = executors.image_ref(image, image_obj, opts)
            prov = provenance.for_image(image, image_obj)
            prov["user_env"] = dict(opts.env)  # every -e KEY=VALUE, names and values
            if opts.memory:
                prov["memory_limit"] = {"limit": opts.memory, "source": opts.memory_source}
            test_run = testrun.provenance(image.name)
            if test_run:
                prov["test_run"] = test_run  # what a test run changed (harness/containers/testrun.py)
            if ref:
                prov["image_digest"] = ref
            echo("%s: image %s%s, device %s, %s" % (
                image.name, built.image_id[7:19], "" if built.built else " (cached)", device,
                executor.where(_shown(os.path.join(run_root, image.name)))))
            for task in tasks_to_run(image, opts):
                for variant in variants_to_run(image, opts.variants, task, device):
                    for k in range(1, opts.repeat + 1):
                        run = Run(image, image_obj, task, variant, k, device, opts, prov)
                        spec = run.spec()
                        spec.image_ref = ref
                        key = (image_obj.id, run.adapter, variant, device)
                        hand_on_peak(spec, peaks.get(key))
                        result = executor.add(spec)
                        if result is None:
                            continue
                        collected.append(result)
                        keep_peak(peaks, key, result, run, opts)
                        if result["status"] != "ok":
                            echo("  %s: FAILED: %s" % (run.label, result.get("reason")),
                                 err=True)
                            if not opts.keep_going:
                                return collected
        more = executor.finish()
        if more is None and not collected:
            return None
        collected.extend(more or [])
    finally:
        with signals.held():
            executor.close()
    return collected
