"""Issue 11, what the user gives and what the engine says: engine errors keep their cause,
unusable paths and option values are refused up front, result files cannot forge numbers, vendor
archives and manifests are checked, every -e variable is recorded, a user's dataset file is never
deleted, hostile strings in results are escaped, and a build without the required LABELs is
refused."""
import contextlib
import io
import json
import os
import re
import types

import pytest
from click.testing import CliRunner

from conftest import HANG_S
from fakes import FakeEngine, stand_in_run, written_result
from harness.images import build
from harness.core import catalog
from harness.runs import collect
from harness.containers import containers, engine
from harness.cli import main
from harness.core.errors import HarnessError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*argv):
    return CliRunner().invoke(main, list(argv))


def one_line_error(res, exit_code=1):
    assert res.exit_code == exit_code, res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, res.output
    return errors[0]


# ------------------------------------------------------------ 4. the engine's own message

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
    result = collect.run_container(run, containers.Tracker(), lambda *a, **k: None)
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


# ------------------------------------------------------------ 5. paths that cannot be written

def _impossible(tmp_path):
    """Folders no one can create: one in /proc, one under a regular file."""
    regular = tmp_path / "a-file"
    regular.write_text("x")
    return ["/proc/dlbench-x", str(regular / "sub")]


@pytest.mark.parametrize("which", [0, 1], ids=["proc", "under-a-file"])
def test_bench_results_dir_that_cannot_be_written(tmp_path, which):
    path = _impossible(tmp_path)[which]
    line = one_line_error(run_cli("bench", "pytorch-2.13", "--synthetic", "--results-dir", path))
    assert line.startswith("Error: --results-dir %s: cannot write there (" % path)


@pytest.mark.parametrize("which", [0, 1], ids=["proc", "under-a-file"])
def test_report_out_that_cannot_be_written(tmp_path, which):
    path = _impossible(tmp_path)[which]
    line = one_line_error(run_cli("report", "--results-dir", str(tmp_path), "--out", path))
    assert line.startswith("Error: --out %s: cannot write there (" % path)
    # the report goes into the results folder by default: the same check
    line = one_line_error(run_cli("report", "--results-dir", path))
    assert line.startswith("Error: report folder %s: cannot write there (" % path)


@pytest.mark.parametrize("which", [0, 1], ids=["proc", "under-a-file"])
def test_vendor_out_that_cannot_be_written(tmp_path, which):
    path = os.path.join(_impossible(tmp_path)[which], "x.tar")
    line = one_line_error(run_cli("vendor", "pytorch-2.13", "-o", path))
    assert line.startswith("Error: -o %s: cannot write there (" % path)


def test_data_fetch_dest_that_cannot_be_written(tmp_path):
    path = _impossible(tmp_path)[1]
    line = one_line_error(run_cli("data", "fetch", "--dest", path))
    assert line.startswith("Error: data folder %s: cannot write there (" % path)


# ------------------------------------------------------------ 6. --memory and --seed up front

@pytest.mark.parametrize("value", ["abc", "4m", "1k", "-1", "0", "8x", "", "5.9m"])
def test_bad_memory_is_a_usage_error(tmp_path, value):
    res = run_cli("bench", "pytorch-2.13", "--synthetic", "--results-dir", str(tmp_path),
                  "--memory", value)
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--memory'" in res.output and "Traceback" not in res.output
    assert os.listdir(str(tmp_path)) == []  # no run folder


@pytest.mark.parametrize("value, size", [
    ("8g", 8 * 1024 ** 3), ("512m", 512 * 1024 ** 2), ("6m", 6 * 1024 ** 2),
    ("1.5g", 3 * 1024 ** 3 // 2), ("8GB", 8 * 1024 ** 3), ("6291456", 6291456),
    ("6144k", 6 * 1024 ** 2), ("6291456b", 6291456),
])
def test_memory_as_docker_reads_it(value, size):
    from harness.core import options
    assert options.memory_bytes(value) == size


@pytest.mark.parametrize("argv", [
    ("--seed", "-1"), ("--seed", "99999999999"), ("--seed", "4294967296"),
    ("--seed", "4294967295", "--repeat", "2"),
])
def test_bad_seed_is_a_usage_error(tmp_path, argv):
    res = run_cli("bench", "pytorch-2.13", "--synthetic", "--results-dir", str(tmp_path), *argv)
    assert res.exit_code == 2, res.output
    assert "'--seed'" in res.output and "Traceback" not in res.output
    assert os.listdir(str(tmp_path)) == []


def test_the_largest_seed_numpy_takes_is_accepted():
    from harness.core import options
    options.check_seeds(2 ** 32 - 1, 1)
    options.check_seeds(2 ** 32 - 3, 3)
    with pytest.raises(Exception):
        options.check_seeds(2 ** 32 - 3, 4)


# ------------------------------------------------------------ 7. no forged numbers

def ok_result(**timings):
    """A collected result (host provenance present), its timings replaced by the arguments."""
    doc = written_result(image="pytorch-2.13", provenance={"image": "pytorch-2.13",
                                                           "run_id": "r1", "repeat": 1})
    doc["timings"].update(epoch_seconds=[1.5], **timings)
    return doc


@pytest.mark.parametrize("change, where", [
    (lambda r: r["timings"].update(images_per_second=-5.0), "timings/images_per_second"),
    (lambda r: r["timings"].update(train_seconds=-0.1), "timings/train_seconds"),
    (lambda r: r["timings"].update(epoch_seconds=[1.0, -1.0]), "timings/epoch_seconds/1"),
    (lambda r: r["timings"].update(seconds_per_1000_images=-1), "timings/seconds_per_1000"),
    (lambda r: r["timings"].update(batches=-40), "timings/batches"),
    (lambda r: r["metrics"].update(test_accuracy=1.5), "metrics/test_accuracy"),
    (lambda r: r["metrics"].update(test_accuracy=-0.5), "metrics/test_accuracy"),
    (lambda r: r.update(status="great"), "status"),
    (lambda r: r["provenance"].update(host_wall_seconds=-3), "provenance/host_wall_seconds"),
])
def test_schema_refuses_impossible_figures(change, where):
    from harness.results import results
    doc = ok_result()
    assert results.validate(doc) == []
    change(doc)
    problems = results.validate(doc)
    assert any(p.startswith(where) for p in problems), problems


@pytest.mark.parametrize("text, said", [
    ('NaN', "timings/images_per_second is NaN"),
    ('Infinity', "timings/images_per_second is Infinity"),
    ('-Infinity', "timings/images_per_second is -Infinity"),
    ('1e999', "timings/images_per_second is Infinity"),  # overflows to inf when read
])
def test_a_non_finite_number_makes_a_result_unreadable(tmp_path, text, said):
    from harness.results import results
    path = tmp_path / "run" / "pytorch-2.13" / "cnn-r1" / "result.json"
    path.parent.mkdir(parents=True)
    body = json.dumps(ok_result(images_per_second=123456.0)).replace("123456.0", text)
    path.write_text(body)
    with pytest.raises(results.Unreadable) as e:
        results.read_collected(str(path))
    assert said in str(e.value) and "non-finite" in str(e.value)
    assert e.value.task == "cnn"
    with pytest.raises(ValueError) as e:
        results.read_upgraded(str(path))
    assert said in str(e.value)
    good, bad = results.read_all_collected(str(tmp_path))
    assert good == [] and [b["path"] for b in bad] == [str(path)]
    table = "\n".join(results.table(str(tmp_path)))
    assert "unreadable" in table and "is %s" % said.split(" is ")[1] in table


def test_a_container_result_with_nan_becomes_a_failed_run(tmp_path, monkeypatch):
    from fakes import FakeContainer
    from harness.results import results
    body = json.dumps(ok_result(images_per_second=123456.0)).replace("123456.0", "NaN")
    fake = FakeEngine(FakeContainer(b""), writes=body)
    monkeypatch.setattr(engine, "client", lambda: fake)
    run = stand_in_run(tmp_path)
    result = collect.run_container(run, containers.Tracker(), lambda *a, **k: None)
    assert result["status"] == "failed"
    assert "timings/images_per_second is NaN" in result["reason"]
    assert os.path.isfile(run.result_path + ".invalid")
    assert results.read_collected(run.result_path)["status"] == "failed"


# ------------------------------------------------------------ 9. every -e variable recorded

def test_every_env_variable_the_user_set_is_recorded(tmp_path, monkeypatch):
    from fakes import FakeContainer
    from harness.runs import provenance
    from harness.results import results
    monkeypatch.setattr(build, "ensure_built", lambda image, **kw: types.SimpleNamespace(
        image_id="sha256:" + "cd" * 32, built=False))
    fake = FakeEngine(FakeContainer(b""), writes=json.dumps(ok_result()))
    monkeypatch.setattr(engine, "client", lambda: fake)
    monkeypatch.setattr(provenance, "for_image", lambda image, image_obj: {"image": image.name})
    root = tmp_path / "results"
    res = run_cli("bench", "pytorch-2.13", "--synthetic", "--task", "cnn", "--device", "cpu",
                  "--results-dir", str(root), "-e", "OMP_NUM_THREADS=4",
                  "-e", "MY_TUNING_KNOB=fast", "-e", "EMPTY=")
    assert res.exit_code == 0, res.output
    [args] = fake.started
    env = {"OMP_NUM_THREADS": "4", "MY_TUNING_KNOB": "fast", "EMPTY": ""}
    # the container also gets the hardened scratch variables (HOME, TMPDIR, ...)
    assert dict((k, args["environment"][k]) for k in env) == env
    [(path, doc)], bad = results.read_all_collected(str(root))
    assert bad == [] and doc["provenance"]["user_env"] == env


def test_the_report_footnotes_the_variables_set(tmp_path):
    from harness.results import report, results
    doc = ok_result()
    doc["provenance"]["user_env"] = {"OMP_NUM_THREADS": "4", "B": "2"}
    folder = tmp_path / "r1" / "pytorch-2.13" / "cnn-r1"
    folder.mkdir(parents=True)
    results.write(doc, str(folder / "result.json"))
    written = report.render_report(str(tmp_path))
    with open(written["html"], encoding="utf-8") as f:
        assert "<dt>environment set (-e)</dt><dd>B=2 OMP_NUM_THREADS=4</dd>" in f.read()
    with open(written["md"], encoding="utf-8") as f:
        assert "environment set (-e) B=2 OMP\\_NUM\\_THREADS=4" in f.read()


# ------------------------------------------------------------ 10. a user's dataset file is kept

@pytest.fixture
def www(tmp_path):
    import functools
    import http.server
    import threading
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1], folder
    httpd.shutdown()
    httpd.server_close()


def _imdb(checksum_of):
    import hashlib
    from harness.images import data
    d = data.DATASETS["imdb"]
    return data.Dataset("imdb", d.filename, d.url, "sha256",
                             hashlib.sha256(checksum_of).hexdigest(), "test")


def _cache_with_own_copy(tmp_path):
    """A dataset cache holding the user's own imdb.npz, which fails the published checksum."""
    dest = tmp_path / "cache"
    dest.mkdir()
    (dest / "imdb.npz").write_bytes(b"my own copy")
    return dest


def test_a_file_failing_its_check_survives_an_offline_fetch(tmp_path):
    from harness.images import data
    dest = _cache_with_own_copy(tmp_path)
    said = []
    with pytest.raises(HarnessError) as e:
        data.fetch_one(_imdb(b"the published file"), str(dest),
                            mirror="http://127.0.0.1:9", echo=said.append)
    assert (dest / "imdb.npz").read_bytes() == b"my own copy"
    assert sorted(os.listdir(str(dest))) == ["imdb.npz"]
    assert "is left as it was" in e.value.message
    assert any("stays until one arrives" in s for s in said)


def test_a_file_failing_its_check_survives_a_mirror_serving_another_file(tmp_path, www):
    from harness.images import data
    url, folder = www
    (folder / "imdb.npz").write_bytes(b"something else")
    dest = _cache_with_own_copy(tmp_path)
    with pytest.raises(HarnessError) as e:
        data.fetch_one(_imdb(b"the published file"), str(dest), mirror=url,
                            echo=lambda *a, **k: None)
    assert (dest / "imdb.npz").read_bytes() == b"my own copy"
    assert sorted(os.listdir(str(dest))) == ["imdb.npz"]
    assert "is left as it was" in e.value.message


def test_a_verified_download_replaces_the_file_and_keeps_it_aside(tmp_path, www):
    from harness.images import data
    url, folder = www
    (folder / "imdb.npz").write_bytes(b"the published file")
    dest = _cache_with_own_copy(tmp_path)
    said = []
    assert data.fetch_one(_imdb(b"the published file"), str(dest), mirror=url,
                               echo=said.append) == "fetched"
    assert (dest / "imdb.npz").read_bytes() == b"the published file"
    [aside] = [n for n in os.listdir(str(dest)) if n != "imdb.npz"]
    assert aside.startswith("imdb.npz.bad-")
    assert (dest / aside).read_bytes() == b"my own copy"
    assert any("kept as %s" % (dest / aside) in s for s in said)


# ------------------------------------------------------------ 12. build refuses missing LABELs

@pytest.mark.parametrize("labels, missing", [
    ("", ["org.dlbench.adapter", "org.dlbench.tasks", "org.dlbench.devices"]),
    ('LABEL org.dlbench.adapter="pytorch" org.dlbench.tasks="cnn"\n', ["org.dlbench.devices"]),
])
def test_build_refuses_a_dockerfile_without_the_required_labels(tmp_path, monkeypatch, labels,
                                                                missing):
    import shutil
    shutil.copytree(os.path.join(ROOT, "tasks"), str(tmp_path / "tasks"))
    folder = tmp_path / "images" / "nolabels"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM debian:bookworm-slim\n" + labels)
    monkeypatch.setenv("DLBENCH_ROOT", str(tmp_path))
    asked = []
    monkeypatch.setattr(engine, "client", lambda: asked.append("client") or 1 / 0)
    line = one_line_error(run_cli("build", "nolabels"))
    assert line.startswith("Error: images/nolabels/Dockerfile: ")
    for label in missing:
        assert "missing LABEL %s" % label in line
    assert line.count("missing LABEL") == len(missing)
    assert asked == []  # refused before the engine was asked anything


@pytest.mark.engine
@pytest.mark.usefixtures("engine")
def test_the_engine_says_why_it_cannot_parse_a_dockerfile(tmp_path, monkeypatch):
    """4, with the engine: a build of a Dockerfile it cannot parse names the cause."""
    import shutil
    import docker
    try:
        docker.from_env(timeout=HANG_S).images.get("debian:bookworm-slim")
    except Exception:
        pytest.skip("needs debian:bookworm-slim in the engine")
    shutil.copytree(os.path.join(ROOT, "tasks"), str(tmp_path / "tasks"))
    folder = tmp_path / "images" / "unparsable"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(
        'FROM debian:bookworm-slim\n'
        'LABEL org.dlbench.adapter="pytorch" org.dlbench.tasks="cnn" org.dlbench.devices="cpu"\n'
        'ENV A="\\"unterminated" B\n')
    monkeypatch.setenv("DLBENCH_ROOT", str(tmp_path))
    line = one_line_error(run_cli("build", "unparsable"))
    assert "failed to parse Dockerfile" in line and "can't find = in" in line, line
    assert "http+docker" not in line


# ------------------------------------------------------------ 8. vendor archives and manifests

def _archive(path, members, manifest=None):
    """A tar at path with members {name: bytes} and, unless None, manifest.json from the dict
    (sha256 of every member added when it has no "members")."""
    import hashlib
    import tarfile
    with tarfile.open(str(path), "w") as tar:
        files = dict(members)
        if manifest is not None:
            if "members" not in manifest:
                manifest = dict(manifest, members={
                    n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                    for n, b in members.items()})
            files["manifest.json"] = json.dumps(manifest).encode()
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return str(path)


DOCKERFILE = (b'FROM debian:bookworm-slim\nLABEL org.dlbench.adapter="pytorch" '
              b'org.dlbench.tasks="cnn" org.dlbench.devices="cpu"\n')


@pytest.fixture
def no_engine(monkeypatch):
    """vendor-build must refuse these archives before it asks the engine anything."""
    asked = []

    def client():
        asked.append("client")
        raise AssertionError("the engine was asked")
    monkeypatch.setattr(engine, "client", client)
    return asked


def _vendor_build(archive):
    return run_cli("vendor-build", archive)


def test_vendor_build_of_a_file_that_is_no_archive(tmp_path, no_engine):
    path = tmp_path / "notes.txt"
    path.write_text("not a tar archive at all\n" * 100)
    res = _vendor_build(str(path))
    line = one_line_error(res)
    assert line == "Error: %s is not a dlbench vendor archive (not a tar archive)" % path
    assert res.output.strip() == line
    assert no_engine == []


@pytest.mark.parametrize("manifest, said", [
    ("{not json", "manifest.json is not JSON"),
    ("[1, 2]", "manifest.json is not a JSON object"),
    ('{"format": 1, "image": "tiny"}', "has no members table"),
    ('{"format": 99, "image": "tiny", "members": {}}', "has format 99; this dlbench reads"),
    ('{"format": 2, "image": "tiny", "members": {"image/tiny/Dockerfile": "x"}}',
     "gives member image/tiny/Dockerfile no sha256"),
    ('{"format": 2, "image": "tiny", "members": {}}', "lists no image/tiny/Dockerfile"),
    ('{"format": 2, "image": 7, "members": {}}', "manifest.json image: 7 is not an image name"),
])
def test_vendor_build_of_a_bad_manifest_is_one_line(tmp_path, no_engine, manifest, said):
    import tarfile
    path = tmp_path / "bad.tar"
    with tarfile.open(str(path), "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest.encode())
        tar.addfile(info, io.BytesIO(manifest.encode()))
    line = one_line_error(_vendor_build(str(path)))
    assert said in line, line
    assert no_engine == []


@pytest.mark.parametrize("name", ["../../../etc", "..", "Tiny", "a/b", "-x", ""])
def test_a_manifest_image_name_is_checked_like_a_command_line_name(tmp_path, monkeypatch,
                                                                    no_engine, name):
    read = []
    monkeypatch.setattr(catalog, "load_image", lambda folder: read.append(folder) or 1 / 0)
    archive = _archive(tmp_path / "evil.tar", {"image/tiny/Dockerfile": DOCKERFILE},
                       {"format": 2, "image": name, "bases": []})
    line = one_line_error(_vendor_build(archive))
    assert "is not an image name" in line, line
    assert read == [] and no_engine == []
    # the same words as for the name on the command line
    cli_line = one_line_error(run_cli("vendor", "--", name)) if name else None
    if cli_line:
        assert "%r is not an image name" % name in cli_line


def test_manifest_paths_stay_inside_the_archive(tmp_path, no_engine):
    archive = _archive(tmp_path / "evil.tar", {"image/tiny/Dockerfile": DOCKERFILE},
                       {"format": 2, "image": "tiny", "members": {
                           "image/tiny/Dockerfile": {"sha256": "0" * 64},
                           "../../etc/passwd": {"sha256": "0" * 64}}})
    line = one_line_error(_vendor_build(archive))
    assert "a path outside the archive" in line
    archive = _archive(tmp_path / "evil2.tar", {"image/tiny/Dockerfile": DOCKERFILE},
                       {"format": 2, "image": "tiny",
                        "bases": [{"ref": "x:1", "id": "sha256:1", "file": "/etc/passwd"}]})
    line = one_line_error(_vendor_build(archive))
    assert "names /etc/passwd, which is not among its members" in line
    assert no_engine == []


def test_vendor_build_refuses_an_archive_image_without_labels(tmp_path, no_engine):
    archive = _archive(tmp_path / "nolabels.tar",
                       {"image/tiny/Dockerfile": b"FROM debian:bookworm-slim\n"},
                       {"format": 2, "image": "tiny", "bases": []})
    line = one_line_error(_vendor_build(archive))
    assert "missing LABEL org.dlbench.adapter" in line
    assert no_engine == []


class _SavedImage(object):
    def __init__(self, ref):
        self.ref, self.id = ref, "sha256:" + ("%064x" % abs(hash(ref)))[:64]

    def save(self, named=None):
        assert named == self.ref
        yield ("docker save of %s" % named).encode()


@pytest.mark.parametrize("dockerfile, bases", [
    ("FROM debian:bookworm-slim\n", ["debian:bookworm-slim"]),
    ("ARG BASE=debian:bookworm-slim\nFROM ${BASE}\n", ["debian:bookworm-slim"]),
    ("FROM python:3.11-slim AS build\nRUN true\nFROM debian:bookworm-slim\n"
     "COPY --from=build /x /x\n", ["python:3.11-slim", "debian:bookworm-slim"]),
    ("FROM scratch\n", []),
], ids=["literal", "arg", "two-stages", "scratch"])
def test_vendor_saves_every_image_the_dockerfile_starts_from(tmp_path, monkeypatch, dockerfile,
                                                             bases):
    import tarfile
    from harness.images import buildneeds, vendor
    folder = tmp_path / "images" / "tiny"
    folder.mkdir(parents=True)
    (tmp_path / "tasks").mkdir()
    (folder / "Dockerfile").write_text(dockerfile + DOCKERFILE.decode().split("\n", 1)[1])
    monkeypatch.setenv("DLBENCH_ROOT", str(tmp_path))
    saved = []

    def get(ref):
        saved.append(ref)
        return _SavedImage(ref)
    monkeypatch.setattr(engine, "client", lambda: types.SimpleNamespace(
        images=types.SimpleNamespace(get=get)))
    out = vendor.vendor("tiny", str(tmp_path / "tiny.tar"), with_data=False, with_cache=False,
                        echo=lambda *a, **k: None)
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = set(tar.getnames())
    assert [b["ref"] for b in manifest["bases"]] == bases == saved
    assert set(b["file"] for b in manifest["bases"]) <= names
    # doctor checks the base images of the same reading (doctor.diagnose: needs.bases)
    needs = buildneeds.image_needs(str(folder))
    assert needs.bases == bases
    assert needs.base_refs({"UNUSED": "x"}) == bases


def test_vendor_takes_the_base_build_argument(tmp_path, monkeypatch):
    from harness.images import buildneeds
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "Dockerfile").write_text("ARG BASE=debian:bookworm-slim\nFROM ${BASE}\n")
    needs = buildneeds.image_needs(str(folder), images_root=str(tmp_path))
    assert needs.base_refs() == ["debian:bookworm-slim"]
    assert needs.base_refs({"BASE": "debian:trixie-slim"}) == ["debian:trixie-slim"]


# ------------------------------------------------------------ 11. hostile strings in results

HOSTILE_REASON = ('<img src=x onerror=alert(1)> [click](http://evil.example) **loud** `code`'
                  '\n| injected | row |\x1b[2J\x1b]0;pwned\x07\r\u202eevil')


def _hostile_results(root):
    from harness.results import results
    docs = []
    bad = ok_result()
    bad.update(status="failed", reason=HOSTILE_REASON, variant="<b>v</b>|x",
               image="<script>alert(1)</script>")
    bad["env"]["cpu"] = "**CPU** <i>x</i> | y"
    docs.append(bad)
    good = ok_result()
    good["variant"] = "tuned\x1b[31m_red_"
    good["provenance"].update(host="[host](javascript:alert(1))", run_id="r1\x1b[2J\rFAKE")
    docs.append(good)
    for i, doc in enumerate(docs):
        folder = os.path.join(root, "r%d" % i, "x", "cnn-r1")
        os.makedirs(folder)
        results.write(doc, os.path.join(folder, "result.json"))


def _unescaped_pipes(line):
    return len(line.replace("\\\\", "").replace("\\|", "").split("|")) - 1


def test_report_md_escapes_strings_from_results(tmp_path):
    from harness.results import report
    _hostile_results(str(tmp_path))
    written = report.render_report(str(tmp_path))
    with open(written["md"], encoding="utf-8") as f:
        md = f.read()
    for raw in ("<img", "<script", "<b>", "<i>", "**loud**", "**CPU**", "`code`", "\x1b",
                "\x07", "\r", "\u202e"):
        assert raw not in md, raw
    assert not re.search(r"(?<!\\)\]\(", md)  # no link: every ]( is an escaped \](
    assert "&lt;img src=x onerror=alert(1)&gt;" in md and "\\x1b\\[2J" in md
    assert "\\*\\*loud\\*\\*" in md and "\\u202eevil" in md
    assert not any(line.startswith("| injected") for line in md.splitlines())
    # every row of a table has as many cells as its header
    table = []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            table.append(_unescaped_pipes(line))
        elif table:
            assert set(table) == {table[0]}, table
            table = []


def test_results_table_shows_control_characters_as_escapes(tmp_path):
    _hostile_results(str(tmp_path))
    res = run_cli("results", "--results-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    for ch in ("\x1b", "\x07", "\r", "\u202e"):
        assert ch not in res.output
    assert "r1\\x1b[2J\\rFAKE" in res.output and "tuned\\x1b[31m_red_" in res.output
    lines = res.output.splitlines()
    assert len(lines) == 3  # the header and one line per result: no injected line


def test_visible_and_markdown_escapes():
    from harness.core import safetext
    assert safetext.visible("plain é ✓ 1.5 s") == "plain é ✓ 1.5 s"
    assert safetext.visible("a\tb\nc\x00\x7f\x9b\u2028\u200f") == \
        "a\\tb\\nc\\x00\\x7f\\x9b\\u2028\\u200f"
    assert safetext.markdown("a_b|c\\d & <e>") == "a\\_b\\|c\\\\d &amp; &lt;e&gt;"
    assert safetext.markdown(None) == ""


def test_report_html_shows_control_characters_as_escapes(tmp_path):
    from harness.results import report
    _hostile_results(str(tmp_path))
    written = report.render_report(str(tmp_path))
    with open(written["html"], encoding="utf-8") as f:
        page = f.read()
    for raw in ("<img", "<script>alert", "<b>v", "\x1b", "\x07", "\r", "\u202e"):
        assert raw not in page, raw
    assert "\\x1b[2J" in page and "tuned\\x1b[31m_red_" in page


def test_vendor_build_checks_sizes_before_it_writes_anything(tmp_path, no_engine):
    """A small compressed archive whose member is far larger than its manifest says (a 9 MB
    archive once wrote 1.87 GB to /tmp before any check) is refused from the tar's headers:
    nothing is extracted."""
    import hashlib
    import tarfile
    big = 64 << 20
    manifest = {"format": 2, "image": "tiny", "bases": [], "members": {
        "image/tiny/Dockerfile": {"sha256": hashlib.sha256(DOCKERFILE).hexdigest(),
                                  "size": len(DOCKERFILE)},
        "wheels/zeros.whl": {"sha256": "0" * 64, "size": 10}}}
    path = str(tmp_path / "bomb.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name, body in (("manifest.json", json.dumps(manifest).encode()),
                           ("image/tiny/Dockerfile", DOCKERFILE)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        info = tarfile.TarInfo("wheels/zeros.whl")
        info.size = big
        tar.addfile(info, io.BytesIO(b"\0" * big))
    assert os.path.getsize(path) < (1 << 20)
    line = one_line_error(_vendor_build(path))
    assert "member wheels/zeros.whl holds %d bytes, the manifest says 10" % big in line
    assert no_engine == []
