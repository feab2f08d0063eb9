"""`dlbench build --all --jobs N` (harness/images/build.py ensure_built_all): every image this machine
builds, N builds at a time, bases made first one at a time, a failed build not stopping the
others. The scheduling is checked here with stand-ins for the one-image build and the base
(the engine's builds themselves run in CI's image phase and in the engine tests)."""
import threading

from click.testing import CliRunner

from helpers import HANG_S
from harness.images import build
from harness.core import catalog
from harness.cli import main
from harness.core.errors import HarnessError


def current_images():
    return [img for img in catalog.discover() if img.era == "current"]


def stand_ins(monkeypatch, fail=(), events=None):
    """ensure_base and ensure_built replaced: the most builds at once is counted, `fail` names
    raise the one-line error a failed build raises."""
    lock = threading.Lock()
    state = {"now": 0, "most": 0, "started": 0, "bases": []}
    gate = threading.Barrier(2)  # the first two builds meet there: they run at once

    def ensure_base(ref, echo=None, log=None):
        with lock:
            assert state["now"] == 0, "a base made while a build runs"
            state["bases"].append(ref)
        return "sha256:base"

    def ensure_built(image, **kw):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            first_two = state["started"] < 2
            state["started"] += 1
        try:
            if first_two:
                gate.wait(timeout=HANG_S)
            if image.name in fail:
                raise HarnessError("building %s failed: pip says no" % image.name)
            return build.Built(image, "sha256:" + image.name, "d", True)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(build, "ensure_base", ensure_base)
    monkeypatch.setattr(build, "ensure_built", ensure_built)
    return state


def test_two_at_a_time_bases_first_and_in_the_order_given(monkeypatch):
    state = stand_ins(monkeypatch)
    images = current_images()
    said = []
    done = build.ensure_built_all(images, jobs=2, echo=lambda *a, **k: said.append(a[0]))
    assert [img.name for img, _ in done] == [img.name for img in images]
    assert all(isinstance(b, build.Built) for _, b in done)
    assert state["most"] == 2
    assert set(state["bases"]) == set(img.base for img in images if img.base)


def test_one_failed_build_does_not_stop_the_others(monkeypatch):
    images = current_images()
    bad = images[1].name
    stand_ins(monkeypatch, fail=(bad,))
    said = []
    done = build.ensure_built_all(images, jobs=2, echo=lambda *a, **k: said.append(a[0]))
    failed = [img.name for img, b in done if not isinstance(b, build.Built)]
    assert failed == [bad]
    assert len(done) == len(images)
    assert any(line.startswith(bad + ": building") for line in said), said


def test_the_command_builds_all_and_fails_in_one_line_naming_the_failed(monkeypatch):
    images = current_images()
    stand_ins(monkeypatch, fail=(images[0].name,))
    res = CliRunner().invoke(main, ["build", "--all", "--jobs", "2"])
    assert res.exit_code == 1
    last = res.output.strip().splitlines()[-1]
    assert last == "Error: 1 of %d image(s) not built: %s (the lines above say why)" % (
        len(images), images[0].name), res.output
    assert all(img.era == "current" for img in images)
    assert "caffe2" not in [img.name for img in images]  # the 2017 images are not built here


def test_names_or_all_but_not_both_nor_neither():
    for argv in (["build"], ["build", "--all", "pytorch-2.13"]):
        res = CliRunner().invoke(main, argv)
        assert res.exit_code == 1
        assert "name the images to build, or give --all (not both)" in res.output


def test_untagged_images_are_counted_with_how_to_free_them():
    """Multi-stage builds leave their builder stage untagged (about 9.5 GB after a CI run):
    `dlbench build` says how many, how large and how to free them."""
    import types
    from harness.images import build

    class Images(object):
        def __init__(self, found):
            self.found = found

        def list(self, filters=None):
            assert filters == {"dangling": True}
            return self.found
    two = [types.SimpleNamespace(attrs={"Size": 1500000000}),
           types.SimpleNamespace(attrs={"Size": 500000000})]
    note = build.dangling_note(types.SimpleNamespace(images=Images(two)))
    assert note.startswith("note: the engine holds 2 untagged image(s), 2.0 GB")
    assert "docker image prune -f" in note
    assert build.dangling_note(types.SimpleNamespace(images=Images([]))) is None
