"""Stand-ins for the Docker engine in unit tests: one container object (the start, wait, reload,
attrs, kill, logs and remove that harness/containers/containers.py, container_run.py and orphans.py use) and a
client whose containers.create returns it and whose containers.list lists `listed`. The real
engine is exercised by tests/test_engine_*.py."""
import os
import time


class ReadTimeout(Exception):
    """Named like requests' ReadTimeout, which the engine's wait raises when its slice ends."""


class FakeContainer(object):
    """A container that prints `output`, then exits with `exit_code`. hang: it runs until
    killed (each wait slice ends in a ReadTimeout after at most 0.2 s); interrupt: the first
    wait raises KeyboardInterrupt (Ctrl-C while the host waits); oom: the engine reports it
    killed for memory; start_error: raised by start() (the engine could not start it); labels,
    status ("created", "running", "exited"), name: what containers.list shows."""

    STARTED, FINISHED = "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:02.623456789Z"

    def __init__(self, output=b"", exit_code=0, oom=False, hang=False, interrupt=False,
                 start_error=None, labels=None, status="running", name="fake", pid=None):
        self.output, self.code, self.oom = output, exit_code, oom
        self.hang, self.interrupt = hang, interrupt
        self.start_error = start_error
        self.killed = self.removed = self.started = False
        self.waits = []
        self.attrs = {}
        self.labels, self.status, self.name = dict(labels or {}), status, name
        self.id = "%s-id" % name
        self.pid = pid
        self.on_start = None  # set by FakeEngine.create: writes the result the run "writes"

    def start(self):
        if self.start_error is not None:
            raise self.start_error
        self.started, self.status = True, "running"
        if self.on_start is not None:
            self.on_start()

    def logs(self, stream=False, follow=False, stdout=True, stderr=True):
        if not stream:  # all of it at once (what orphans saves)
            return self.output
        assert follow
        return self._chunks()

    def _chunks(self):
        for i in range(0, len(self.output), 7):  # chunks that cut lines in two
            yield self.output[i:i + 7]

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if self.interrupt and not self.killed:
            raise KeyboardInterrupt
        if self.hang and not self.killed:
            time.sleep(min(timeout, 0.2))
            raise ReadTimeout("Read timed out. (read timeout=%s)" % timeout)
        return {"StatusCode": self.code}

    def kill(self):
        if self.status != "running":
            raise RuntimeError("409 Conflict: container %s is not running" % self.name)
        self.killed = True
        self.code = 137
        self.status = "exited"

    def reload(self):
        if self.removed:
            raise RuntimeError("404 Client Error: Not Found (no such container: %s)" % self.name)
        self.attrs = {"State": {"ExitCode": self.code, "OOMKilled": self.oom,
                                "StartedAt": self.STARTED, "FinishedAt": self.FINISHED,
                                "Status": self.status, "Pid": self.pid or 0},
                      "Image": "sha256:" + "ab" * 32}

    def remove(self, force=False):
        self.removed = True


class FakeEngine(object):
    """engine.client() for unit tests: containers.create(**args) returns `container`, whose
    start() writes `writes` (text) as the container's result.json into the folder mounted at
    /results; error: raised by containers.create instead. containers.list(all, filters) lists
    `listed` (and `container`, once made), by their status and "label" filter. images.get
    returns an image with `image_labels`."""

    def __init__(self, container=None, writes=None, error=None, image_labels=None, listed=()):
        self.container, self.writes, self.error = container, writes, error
        self.image_labels = dict(image_labels or {})
        self.containers, self.images = self, self
        self.listed = list(listed)
        self.started = []  # the arguments of every containers.create

    def create(self, **args):
        self.started.append(args)
        if self.error is not None:
            raise self.error
        c = self.container
        c.labels = dict(args.get("labels") or {})
        if self.writes is not None:
            folder = [h for h, m in args["volumes"].items() if m["bind"] == "/results"][0]

            def write():
                with open(os.path.join(folder, "result.json"), "w") as f:
                    f.write(self.writes)
            c.on_start = write
        c.status = "created"
        self.listed.append(c)
        return c

    def run(self, **args):
        c = self.create(**args)
        c.start()
        return c

    def list(self, all=False, filters=None):
        filters = filters or {}
        out = []
        for c in self.listed:
            if c.removed or (not all and c.status != "running"):
                continue
            if filters.get("status") and c.status != filters["status"]:
                continue
            label = filters.get("label")
            if label and label.split("=", 1)[0] not in c.labels:
                continue
            if label and "=" in label and c.labels.get(label.split("=", 1)[0]) != \
                    label.split("=", 1)[1]:
                continue
            out.append(c)
        return out

    def get(self, image_id):
        return FakeImage(image_id, self.image_labels)


class FakeImage(object):
    def __init__(self, image_id, labels):
        self.id, self.labels = image_id, labels
        self.attrs = {"RepoDigests": []}


def written_result(**extra):
    """A schema-2 ok CNN result as tasks/run.py writes it inside a container (no provenance,
    image null); keyword arguments replace its top-level fields."""
    doc = {"schema_version": 2, "task": "cnn", "framework": "pytorch", "adapter": "pytorch",
           "variant": "reference", "image": None, "status": "ok", "reason": None,
           "exit_code": 0, "device": "cpu", "params": {"epochs": 1},
           "data": {"source": "synthetic"}, "env": {"python": "3.11.2", "numpy": "2.4.6"},
           "timings": {"train_seconds": 1.5, "images_per_second": 100.0},
           "metrics": {"test_accuracy": 0.5}, "started": "2026-01-01T00:00:00Z",
           "finished": "2026-01-01T00:00:02Z"}
    doc.update(extra)
    return doc


def stand_in_run(tmp_path, **options):
    """A bench.Run of pytorch-2.13's CNN on a stand-in image object, results under tmp_path."""
    import types
    from harness.core import catalog
    from harness.launch import bench
    image = catalog.lookup(["pytorch-2.13"])[0]
    image_obj = types.SimpleNamespace(id="sha256:" + "ab" * 32, labels={})
    opts = bench.BenchOptions(synthetic=True, results_root=str(tmp_path / "results"),
                              data_dir=str(tmp_path / "data"), run_id="20260101-000000-abcd",
                              **options)
    prov = {"image": image.name, "image_id": image_obj.id, "pip_freeze": ["torch==2.13.0"]}
    return bench.Run(image, image_obj, "cnn", "reference", 1, "cpu", opts, prov)


def collected_result(**timings):
    """A collected result (host provenance present), its timings replaced by the arguments."""
    doc = written_result(image="pytorch-2.13", provenance={"image": "pytorch-2.13",
                                                           "run_id": "r1", "repeat": 1})
    doc["timings"].update(epoch_seconds=[1.5], **timings)
    return doc
