"""Stand-ins for the Docker engine in unit tests: one container object (the wait, reload, attrs,
kill, logs and remove that harness/containers.py and harness/collect.py use) and a client whose
containers.run returns it. The real engine is exercised by tests/test_engine_*.py."""
import os
import time


class ReadTimeout(Exception):
    """Named like requests' ReadTimeout, which the engine's wait raises when its slice ends."""


class FakeContainer(object):
    """A container that prints `output`, then exits with `exit_code`. hang: it runs until
    killed (each wait slice ends in a ReadTimeout after at most 0.2 s); interrupt: the first
    wait raises KeyboardInterrupt (Ctrl-C while the host waits); oom: the engine reports it
    killed for memory."""

    STARTED, FINISHED = "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:02.623456789Z"

    def __init__(self, output=b"", exit_code=0, oom=False, hang=False, interrupt=False):
        self.output, self.code, self.oom = output, exit_code, oom
        self.hang, self.interrupt = hang, interrupt
        self.killed = self.removed = False
        self.waits = []
        self.attrs = {}

    def logs(self, stream=False, follow=False):
        assert stream and follow
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
        self.killed = True
        self.code = 137

    def reload(self):
        self.attrs = {"State": {"ExitCode": self.code, "OOMKilled": self.oom,
                                "StartedAt": self.STARTED, "FinishedAt": self.FINISHED}}

    def remove(self, force=False):
        self.removed = True


class FakeEngine(object):
    """engine.client() for unit tests: containers.run(**args) writes `writes` (text) as the
    container's result.json into the folder mounted at /results, and returns `container`;
    error: raised by containers.run instead. images.get returns an image with `image_labels`."""

    def __init__(self, container=None, writes=None, error=None, image_labels=None):
        self.container, self.writes, self.error = container, writes, error
        self.image_labels = dict(image_labels or {})
        self.containers, self.images = self, self
        self.started = []  # the arguments of every containers.run

    def run(self, **args):
        self.started.append(args)
        if self.error is not None:
            raise self.error
        if self.writes is not None:
            folder = [h for h, m in args["volumes"].items() if m["bind"] == "/results"][0]
            with open(os.path.join(folder, "result.json"), "w") as f:
                f.write(self.writes)
        return self.container

    def get(self, image_id):
        return FakeImage(image_id, self.image_labels)


class FakeImage(object):
    def __init__(self, image_id, labels):
        self.id, self.labels = image_id, labels
        self.attrs = {"RepoDigests": []}
