"""`dlbench bench`: one container per (image, task, variant, repeat), each with the tasks mounted
read-only at /tasks, the data cache read-only at /data, its own results folder writable at
/results, no network, the invoking user's uid, a timeout; its output streamed to a progress
display and saved; its result collected, validated against the schema and given provenance.
A run that dies without a result (killed, timed out, out of memory) still gets one (failed)."""
import json
import os
import signal
import threading
import time
import uuid

import click

from . import build, catalog, datacache, engine, paths, provenance, results
from .errors import HarnessError

DEFAULT_TIMEOUT = 6 * 3600  # seconds per run: the full CNN on a slow CPU takes hours


class Options(object):
    """What `dlbench bench` was asked to do (kept in one object so it is easy to extend)."""

    def __init__(self, tasks=(), device="auto", repeat=1, synthetic=False, keep_going=False,
                 timeout=DEFAULT_TIMEOUT, epochs=None, limit=None, seed=0, variants=(),
                 memory=None, env=None, data_dir=None, results_root=None, base=None,
                 build_args=None, offline=False, run_id=None):
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
        self.memory = memory
        self.env = dict(env or {})
        self.data_dir = os.path.abspath(data_dir or paths.data_dir())
        self.results_root = os.path.abspath(results_root or paths.results_dir())
        self.base = base
        self.build_args = dict(build_args or {})
        self.offline = offline
        self.run_id = run_id or "%s-%s" % (time.strftime("%Y%m%d-%H%M%S"), uuid.uuid4().hex[:4])


# ---------------------------------------------------------------- checks before anything runs

def check_request(images, opts):
    """Every argument error, before any build or run: one line, what to do."""
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
    if opts.device == "gpu" and not engine.has_gpu_runtime():
        raise HarnessError("--device gpu, but this host's Docker engine has no NVIDIA GPU "
                           "runtime: install the NVIDIA driver and nvidia-container-toolkit "
                           "(then restart dockerd), or use --device cpu")
    if not opts.synthetic:
        needed = set()
        for image in images:
            needed.update(opts.tasks or image.tasks)
        missing = datacache.missing_for(sorted(needed), opts.data_dir)
        if missing:
            raise HarnessError("no %s in %s: run `dlbench data fetch` (or pass --synthetic for "
                               "a speed-only run on synthetic data)"
                               % (", ".join(d.filename for d in missing), opts.data_dir))


def resolve_device(image, image_obj, requested):
    """cpu or gpu for this image: auto takes the GPU when the host and the build both can."""
    built_cuda = (image_obj.labels or {}).get("org.dlbench.cuda", "none") not in ("", "none")
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


# ---------------------------------------------------------------------- one container, one run

class Run(object):
    def __init__(self, image, image_obj, task, variant, repeat, device, opts, prov):
        self.image, self.image_obj = image, image_obj
        self.task, self.variant, self.repeat, self.device = task, variant, repeat, device
        self.opts, self.prov = opts, prov
        leaf = task if variant == "reference" else "%s-%s" % (task, variant)
        self.dir = os.path.join(opts.results_root, opts.run_id, image.name,
                                "%s-r%d" % (leaf, repeat))
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
        cmd = ["python3", "/tasks/run.py", self.task, "--framework", self.image.adapter,
               "--variant", self.variant, "--device", self.device]
        if self.task != "inference":
            cmd += ["--synthetic"] if o.synthetic else ["--data", "/data"]
        if o.epochs is not None and self.task != "inference":
            cmd += ["--epochs", str(o.epochs)]
        if o.limit is not None:
            cmd += ["--limit", str(o.limit)]
        cmd += ["--seed", str(o.seed + self.repeat - 1), "--out", "/results/result.json"]
        return cmd

    def container_args(self):
        o = self.opts
        volumes = {paths.tasks_dir(): {"bind": "/tasks", "mode": "ro"},
                   self.dir: {"bind": "/results", "mode": "rw"}}
        if os.path.isdir(o.data_dir):
            volumes[o.data_dir] = {"bind": "/data", "mode": "ro"}
        args = dict(
            image=self.image_obj.id, command=self.command(), detach=True,
            name="dlbench-%s-%s-%s-r%d" % (o.run_id, self.image.name, self.task, self.repeat),
            network_mode="none", user="%d:%d" % (os.getuid(), os.getgid()),
            volumes=volumes, environment=dict(o.env), working_dir="/tmp",
            labels={"org.dlbench.run": o.run_id, "org.dlbench.image": self.image.name,
                    "org.dlbench.task": self.task},
        )
        if self.device == "gpu":
            args["device_requests"] = engine.gpu_device_requests()
        if o.memory:
            args["mem_limit"] = o.memory
            args["memswap_limit"] = o.memory  # no swap: an over-limit run is killed, not slowed
        return args


class _Output(threading.Thread):
    """Follows a container's output: saves it, keeps its progress events, shows them."""

    def __init__(self, container, run, echo):
        threading.Thread.__init__(self, daemon=True)
        self.container, self.job, self.echo = container, run, echo
        self.last_lines = []

    def run(self):
        # Ctrl-C must reach the main thread: a SIGINT the kernel hands to this thread leaves the
        # main thread blocked in the engine's wait call (up to a whole wait slice, see _wait)
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        r = self.job
        with open(r.log_path, "wb") as log, open(r.events_path, "w") as events:
            buf = b""
            try:
                for chunk in self.container.logs(stream=True, follow=True):
                    log.write(chunk)
                    log.flush()
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        self._line(line.decode("utf-8", "replace"), events)
            except Exception:  # the container went away under us: the log is what we have
                pass
            if buf:
                self._line(buf.decode("utf-8", "replace"), events)

    def _line(self, text, events):
        text = text.rstrip("\r")
        if text.strip():
            self.last_lines = (self.last_lines + [text])[-20:]
        if text.startswith("{"):
            try:
                ev = json.loads(text)
            except ValueError:
                return
            if isinstance(ev, dict) and "event" in ev:
                events.write(text + "\n")
                events.flush()
                self.echo("  " + describe_event(self.job.label, ev))



def describe_event(label, ev):
    kind = ev.get("event")
    if kind == "start":
        return "%s: started (%s %s, %s)" % (label, ev.get("framework"),
                                           ev.get("framework_version") or "", ev.get("device"))
    if kind == "epoch":
        return "%s: epoch %s/%s  loss %s  %.1f s" % (
            label, ev.get("epoch"), ev.get("epochs"),
            "%.4f" % ev["loss"] if isinstance(ev.get("loss"), (int, float)) else "-",
            ev.get("seconds") or 0.0)
    if kind == "batch":
        return "%s: %s batches, %.1f images/s" % (label, ev.get("batches"),
                                                 ev.get("images_per_second") or 0.0)
    if kind == "end":
        return "%s: %s%s" % (label, ev.get("status"),
                             "" if ev.get("status") == "ok" else " (%s)" % ev.get("reason"))
    return "%s: %s" % (label, json.dumps(ev, sort_keys=True)[:120])


class Tracker(object):
    """The containers this process started, so Ctrl-C or an error removes them all."""

    def __init__(self):
        self.containers = []

    def add(self, c):
        self.containers.append(c)

    def remove(self, c):
        try:
            c.remove(force=True)
        except Exception:
            pass
        if c in self.containers:
            self.containers.remove(c)

    def remove_all(self):
        for c in list(self.containers):
            self.remove(c)


WAIT_SLICE = 10  # seconds per engine wait call: the longest a signal can sit unhandled


def _wait(container, timeout):
    """Exit code, or None when the timeout passed first."""
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        try:
            return container.wait(timeout=min(left, WAIT_SLICE))["StatusCode"]
        except Exception as e:  # requests' ReadTimeout / ConnectionError on a slow wait
            if "timed out" not in str(e).lower() and "timeout" not in type(e).__name__.lower():
                raise


def execute(run, tracker, echo=click.echo):
    """Run one container to its end and collect its result; returns the result dict."""
    os.makedirs(run.dir, exist_ok=True)
    started, t0 = results.now_iso(), time.time()
    reason, exit_code, out = None, None, None
    container = None
    try:
        container = engine.client().containers.run(**run.container_args())
        tracker.add(container)
        out = _Output(container, run, echo)
        out.start()
        exit_code = _wait(container, run.opts.timeout)
        if exit_code is None:
            reason = "timed out after %d s (--timeout): container killed" % run.opts.timeout
            _kill(container)
            exit_code = _exit_code(container)
        else:
            container.reload()
            if container.attrs.get("State", {}).get("OOMKilled"):
                reason = "killed: out of memory (memory limit %s)" % (run.opts.memory or "host")
    except KeyboardInterrupt:
        with _sigint_ignored():
            if container is not None:
                _kill(container)
                tracker.remove(container)
            if out is not None:
                out.join(5)
            result = results.failed_result(run.task, run.image.adapter, run.variant, run.device,
                                           run.source, "interrupted (Ctrl-C)", 130, started)
            collect(run, result, time.time() - t0)
        raise
    except HarnessError:
        raise
    except Exception as e:
        reason = "could not run the container: %s" % engine._short(e)
    if out is not None:
        out.join(30)
    result = _gather(run, exit_code, reason, started, out)
    inside = None
    if container is not None:
        inside = _container_seconds(container)
        tracker.remove(container)
    return collect(run, result, time.time() - t0, inside)


def _container_seconds(container):
    """How long the container's process ran, by the engine's clock (StartedAt..FinishedAt)."""
    import datetime

    def parse(stamp):
        stamp = stamp.rstrip("Z")
        head, _, frac = stamp.partition(".")
        t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
        return t + datetime.timedelta(microseconds=int((frac + "000000")[:6] or 0))

    try:
        container.reload()
        state = container.attrs["State"]
        return round((parse(state["FinishedAt"]) - parse(state["StartedAt"])).total_seconds(), 3)
    except Exception:
        return None


def _kill(container):
    try:
        container.kill()
    except Exception:
        pass
    try:
        container.wait(timeout=30)
    except Exception:
        pass


def _exit_code(container):
    try:
        container.reload()
        return container.attrs["State"]["ExitCode"]
    except Exception:
        return None


class _sigint_ignored(object):
    """A second Ctrl-C must not interrupt the cleanup of the first."""

    def __enter__(self):
        try:
            self.old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            self.old = None

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)


def _gather(run, exit_code, reason, started, out):
    """The result the container wrote, or a failed one in its place."""
    def failed(why):
        return results.failed_result(run.task, run.image.adapter, run.variant, run.device,
                                     run.source, why, exit_code, started)

    if not os.path.isfile(run.result_path):
        if reason is None:
            tail = out.last_lines[-1] if out is not None and out.last_lines else "no output"
            reason = "container exited with code %s without writing a result: %s" % (
                exit_code, tail[:200])
        return failed(reason)
    try:
        result = results.read(run.result_path)
    except (OSError, ValueError) as e:
        os.replace(run.result_path, run.result_path + ".invalid")
        return failed(reason or "unreadable result.json (kept as result.json.invalid): %s" % e)
    if not isinstance(result, dict):
        os.replace(run.result_path, run.result_path + ".invalid")
        return failed(reason or "result.json is not an object (kept as result.json.invalid)")
    if reason is not None:  # killed after writing (timeout, OOM): the kill wins
        result.update(status="failed", reason=reason)
    if exit_code not in (0, None) and result.get("status") == "ok":
        result.update(status="failed",
                      reason="container exited with code %s after an ok result" % exit_code)
    result["exit_code"] = exit_code if exit_code is not None else result.get("exit_code")
    return result


ALL_VARIANTS = "all"


def variants_to_run(image, asked, task=None):
    """--variant all: every variant the image declares that this task's adapter offers (the
    PyTorch RNN has no tuned variant); none asked: the image's first (reference)."""
    if ALL_VARIANTS in asked:
        offered = catalog.adapter_variants(paths.tasks_dir(), task, image.adapter) if task else None
        return [v for v in image.variants
                if offered is None or v in offered or v == image.variants[0]]
    return list(asked) or list(image.variants[:1])


def collect(run, result, wall, container_seconds=None):
    """Validate, add provenance, write result.json; an invalid result is kept beside it."""
    problems = results.validate(result)
    if problems:
        if os.path.isfile(run.result_path):
            os.replace(run.result_path, run.result_path + ".invalid")
        result = results.failed_result(
            run.task, run.image.adapter, run.variant, run.device, run.source,
            "result does not match the schema (kept as result.json.invalid): %s" % problems[0],
            result.get("exit_code") if isinstance(result.get("exit_code"), int) else None,
            result.get("started") if isinstance(result.get("started"), str) else None)
    prov = dict(run.prov)
    prov.update(repeat=run.repeat, run_id=run.opts.run_id, host_wall_seconds=round(wall, 3),
                container_seconds=container_seconds,
                log=os.path.relpath(run.log_path, run.opts.results_root))
    result["provenance"] = prov
    problems = results.validate(result)
    if problems:  # a harness bug; still keep the result
        result["provenance_problems"] = problems
    results.write(result, run.result_path)
    return result


# ------------------------------------------------------------------------------- the whole bench

def _shown(path):
    """A path as the user would type it: relative under the current folder, else absolute."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def bench(images, opts, echo=click.echo, verbose=False):
    """Build (or reuse) each image and run its tasks; returns the list of results."""
    check_request(images, opts)
    tracker = Tracker()
    collected = []
    run_root = os.path.join(opts.results_root, opts.run_id)
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
            device = resolve_device(image, image_obj, opts.device)
            prov = provenance.for_image(image, image_obj)
            echo("%s: image %s%s, device %s, results in %s" % (
                image.name, built.image_id[7:19], "" if built.built else " (cached)", device,
                _shown(os.path.join(run_root, image.name))))
            for task in (opts.tasks or image.tasks):
                for variant in variants_to_run(image, opts.variants, task):
                    for k in range(1, opts.repeat + 1):
                        run = Run(image, image_obj, task, variant, k, device, opts, prov)
                        result = execute(run, tracker, echo)
                        collected.append(result)
                        if result["status"] != "ok":
                            echo("  %s: FAILED: %s" % (run.label, result.get("reason")),
                                 err=True)
                            if not opts.keep_going:
                                return collected
    finally:
        with _sigint_ignored():
            tracker.remove_all()
    return collected
