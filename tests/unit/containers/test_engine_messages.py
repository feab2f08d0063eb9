"""What the engine says reaches the user: an engine error keeps its own message (the cause of a
long one too, in one line), a container that cannot start says why in its result, a Dockerfile
that does not parse is shown."""
import contextlib
import io
import types

import pytest

from helpers import HANG_S
from helpers.fakes import FakeEngine, stand_in_run
from harness.images import build
from harness.core import catalog
from harness.runs import container_run
from harness.containers import containers, engine
from harness.core.errors import HarnessError

CONTAINER = "dcbcf1d28ec21083b84d151dc76ea2e2c744402b539dbf450d30f6062b73f085"
SHIM = ('failed to create shim task: OCI runtime create failed: runc create failed: unable to '
        'start container process: exec: "python3": executable file not found in $PATH: unknown')
MEMORY = "Minimum memory limit allowed is 6MB"
PARSE = ('failed to parse Dockerfile: Syntax error - can\'t find = in "\\"unterminated". Must be '
         'of the form: name=value')


def api_error(path, explanation, status=400, reason="Bad Request"):
    """A docker.errors.APIError as the SDK raises it for an engine answer (its str starts with
    the request URL)."""
    import docker
    import requests
    response = requests.Response()
    response.status_code, response.reason = status, reason
    response.url = "http+docker://localhost/v1.41" + path
    return docker.errors.APIError(requests.HTTPError(response=response), response=response,
                                  explanation=explanation)


@pytest.mark.parametrize("path, explanation", [
    ("/containers/%s/start" % CONTAINER, SHIM),
    ("/containers/create?name=dlbench-20260101-000000-abcd-pytorch-2.13-cnn-r1", MEMORY),
    ("/build?t=dlbench%2Ftiny%3Alatest&q=False&nocache=False&rm=True&forcerm=True&pull=False"
     "&buildargs=%7B%7D&labels=%7B%22org.dlbench.context-hash%22%3A+%22" + "ab" * 32 + "%22%7D",
     PARSE),
], ids=["shim", "memory", "parse"])
def test_engine_errors_show_the_engines_own_message(path, explanation):
    e = api_error(path, explanation)
    assert str(e).startswith("400 Client Error for http+docker://")  # what was cut before
    assert engine.short_error(e) == explanation


def test_short_error_is_one_line_and_keeps_the_cause_of_a_long_message():
    e = api_error("/containers/x/start", "failed to create shim task:\n" + "x" * 1000
                  + " cause: no space left on device")
    text = engine.short_error(e)
    assert "\n" not in text and len(text) <= engine.SHORT_ERROR_LIMIT
    assert text.startswith("failed to create shim task: x")
    assert text.endswith("cause: no space left on device")
    # an APIError without an explanation: its status, never the URL
    assert engine.short_error(api_error("/info", None, 500, "Internal Server Error")) == \
        "500 Internal Server Error"
    # not an engine error: its last line, as before
    assert engine.short_error(RuntimeError("500 Server Error\nNo such image: x")) == \
        "No such image: x"


def test_build_error_keeps_its_message():
    import docker
    e = docker.errors.BuildError("The command '/bin/sh -c false' returned a non-zero code: 1",
                                 iter([]))
    assert engine.short_error(e).endswith("returned a non-zero code: 1")


def test_a_container_that_cannot_start_says_why_in_its_result(tmp_path, monkeypatch):
    fake = FakeEngine(error=api_error("/containers/%s/start" % CONTAINER, SHIM, 500,
                                      "Internal Server Error"))
    monkeypatch.setattr(engine, "client", lambda: fake)
    run = stand_in_run(tmp_path)
    result = container_run.run_container(run, containers.Tracker(), lambda *a, **k: None)
    assert result["status"] == "failed"
    assert result["reason"] == "could not run the container: " + SHIM


class _BuildContext(object):
    @contextlib.contextmanager
    def tarfile(self):
        yield io.BytesIO(b"")


def test_a_dockerfile_parse_error_is_shown(tmp_path, monkeypatch):
    error = api_error("/build?t=dlbench%2Fpytorch-2.13%3Alatest&q=False&nocache=False" + "&x=y"
                      * 60, PARSE)

    class Api(object):
        def build(self, **kw):
            raise error

    monkeypatch.setattr(engine, "client", lambda: types.SimpleNamespace(api=Api()))
    image = catalog.lookup(["pytorch-2.13"])[0]
    with pytest.raises(HarnessError) as e:
        build.stream_build(image, _BuildContext(), {}, "digest", io.StringIO(), False,
                           lambda *a, **k: None, "build.log")
    assert PARSE in e.value.message and "http+docker" not in e.value.message


def test_an_engine_that_stopped_is_not_called_a_missing_image(tmp_path):
    """A client whose engine went away (here: a socket nobody serves) gets "cannot reach the
    Docker engine", never "not built here" / "not in the local engine"."""
    import docker
    from harness.images import push
    gone = docker.DockerClient(base_url="unix://%s" % (tmp_path / "no-engine.sock"),
                               version="1.41", timeout=HANG_S)
    with pytest.raises(HarnessError) as e:
        engine.local_image("dlbench/pytorch-2.13", gone)
    assert str(e.value).startswith("cannot reach the Docker engine (")
    with pytest.raises(HarnessError) as e:
        push.push(catalog.lookup(["pytorch-2.13"])[0], "localhost:5000", print, client=gone)
    assert str(e.value).startswith("cannot reach the Docker engine (")
    assert "not built" not in str(e.value)
