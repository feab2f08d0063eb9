"""One run, described as plain data: what `dlbench bench` hands to an executor.

A RunSpec holds everything a machine needs to run one (image, task, variant, repeat) exactly as
the local path runs it: the image (its id, and the registry reference by digest when it was
pushed), the command, the mounts, the environment, the hardening (harness/containers/hardening.py settings:
user, no capabilities, read-only root, tmpfs, pids and log limits, no network), the memory limit,
the GPUs, the labels, the timeout, where the result goes, and what a failed result and the
provenance need. It is JSON (to_json / from_json): the local executor runs it in this process,
the SLURM executor writes it next to the run's result folder and the job runs it on its node
(`python3 -m harness.launch.slurm_node RUNFILE`), the Kubernetes dry run turns it into a Job manifest.

SpecRun is a RunSpec seen as the run object harness/runs/container_run.py runs (task, dir, result_path,
create_args(), ...), so both executors go through the same collect.run_container."""
import json
import os
import socket

from ..core import catalog
from ..containers import engine, hardening, testrun
from . import orphans

VERSION = 1
FILENAME = "run.json"  # a submitted run's RunSpec, in its result folder


class RunSpec(object):
    """One run as plain data (see the module doc). Every field is JSON: str, int, float, bool,
    None, lists and dicts of them."""

    FIELDS = (
        # what runs
        "image_id",       # sha256:... the image the host built (the digest of its config)
        "image_ref",      # registry/name@sha256:... to pull by digest, or None (engine-local)
        "image_name",     # the catalog name, e.g. pytorch-2.13
        "name",           # the container's name
        "command",        # list of str
        "mounts",         # [{"source": host path, "target": path, "read_only": bool}]
        "hardening",      # hardening.settings(...): user, network, caps, read-only, tmpfs, env...
        "memory",         # "8g" or None
        "gpus",           # 0: none; -1: all the engine has; N: N GPUs (a scheduler's count)
        "labels",         # dict str -> str
        "timeout",        # seconds before the container is killed
        "shm_size",       # /dev/shm size, e.g. "2g" (data-loader workers), or None: the default
        # the run, for its result and progress
        "task", "adapter", "variant", "device", "source", "repeat", "label",
        "run_id", "results_root", "dir",
        "prov",           # the host's provenance of the image (provenance.for_image + user_env)
    )

    def __init__(self, **fields):
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise ValueError("unknown RunSpec field(s): %s" % ", ".join(sorted(unknown)))
        for f in self.FIELDS:
            setattr(self, f, fields.get(f))

    # -- JSON

    def to_dict(self):
        doc = {f: getattr(self, f) for f in self.FIELDS}
        doc["runspec_version"] = VERSION
        return doc

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, doc):
        doc = dict(doc)
        version = doc.pop("runspec_version", None)
        if version != VERSION:
            raise ValueError("run description version %r, this dlbench reads version %d: run "
                             "the same dlbench on the host and the nodes" % (version, VERSION))
        return cls(**doc)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def write(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.to_json() + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path):
        with open(path) as f:
            return cls.from_json(f.read())

    def __eq__(self, other):
        return isinstance(other, RunSpec) and self.to_dict() == other.to_dict()

    # -- paths

    @property
    def result_path(self):
        return os.path.join(self.dir, "result.json")

    @property
    def log_path(self):
        return os.path.join(self.dir, "container.log")

    @property
    def events_path(self):
        return os.path.join(self.dir, "events.jsonl")

    # -- the Docker engine

    def image_for_engine(self):
        """What the engine runs: the image id (the node checked that the reference it pulled is
        that image, harness/launch/slurm_node.py)."""
        return self.image_id

    def docker_args(self):
        """The Docker SDK containers.create/run arguments of this run (no owner labels: see
        SpecRun.create_args)."""
        args = dict(self.hardening)
        args["environment"] = dict(self.hardening.get("environment") or {})
        args.update(
            image=self.image_for_engine(), command=list(self.command), detach=True,
            name=self.name,
            volumes={m["source"]: {"bind": m["target"], "mode": "ro" if m["read_only"] else "rw"}
                     for m in self.mounts},
            labels=dict(self.labels),
        )
        if self.gpus:
            args["device_requests"] = gpu_requests(self.gpus)
        if self.shm_size:
            args["shm_size"] = self.shm_size
        if self.memory:
            args["mem_limit"] = self.memory
            args["memswap_limit"] = self.memory  # no swap: an over-limit run is killed, not slowed
        return args


def gpu_requests(gpus):
    """The SDK's `docker run --gpus all` (gpus -1) or `--gpus N`."""
    if gpus == -1:
        return engine.gpu_device_requests()
    import docker
    return [docker.types.DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]


def mount(source, target, read_only):
    return {"source": source, "target": target, "read_only": bool(read_only)}


class _Opts(object):
    """The few BenchOptions fields container_run.py and orphans.py read from a run."""

    def __init__(self, spec):
        self.timeout = spec.timeout
        self.memory = spec.memory
        self.run_id = spec.run_id
        self.results_root = spec.results_root


class _Image(object):
    def __init__(self, name):
        self.name = name


class SpecRun(object):
    """A RunSpec as the run object harness/runs/container_run.py runs; extra_prov: what this machine adds to
    the provenance (a SLURM node: its name, the job id, the partition)."""

    def __init__(self, spec, extra_prov=None, gpu_ids=None):
        self.spec = spec
        self.gpu_ids = gpu_ids  # a scheduler's GPUs for this run (SLURM_JOB_GPUS), else all
        self.image = _Image(spec.image_name)
        self.opts = _Opts(spec)
        self.task, self.adapter, self.variant = spec.task, spec.adapter, spec.variant
        self.device, self.source, self.repeat = spec.device, spec.source, spec.repeat
        self.label = spec.label
        self.dir = spec.dir
        self.result_path, self.log_path = spec.result_path, spec.log_path
        self.events_path = spec.events_path
        self.prov = dict(spec.prov or {})
        self.prov.update(extra_prov or {})

    def container_args(self):
        args = self.spec.docker_args()
        if self.spec.gpus and self.gpu_ids:
            import docker
            args["device_requests"] = [docker.types.DeviceRequest(
                device_ids=list(self.gpu_ids), capabilities=[["gpu"]])]
        hardening.prepare_results_dir(self.dir, args["user"])
        for m in self.spec.mounts:  # a test run's shared compile cache (harness/containers/testrun.py)
            if m["target"] == testrun.CACHE_TARGET:
                hardening.prepare_results_dir(m["source"], args["user"])
        return args

    def create_args(self):
        args = self.container_args()
        args["labels"] = dict(args.get("labels") or {}, **orphans.owner_labels(self))
        return args


def run_labels(run_id, image_name, task):
    return {catalog.RUN_LABEL: run_id, catalog.IMAGE_NAME_LABEL: image_name,
            catalog.TASK_LABEL: task}


def node_provenance(environ=None):
    """What a SLURM node adds to a result's provenance: the node's name (also as `host`), the job
    id and the partition (None outside a SLURM job)."""
    env = os.environ if environ is None else environ
    node = env.get("SLURMD_NODENAME") or socket.gethostname()
    out = {"host": node}
    if env.get("SLURM_JOB_ID"):
        out["slurm"] = {"job_id": env.get("SLURM_JOB_ID"), "node": node,
                        "partition": env.get("SLURM_JOB_PARTITION"),
                        "cluster": env.get("SLURM_CLUSTER_NAME")}
    return out
