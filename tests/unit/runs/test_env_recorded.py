"""Every -e variable the user set is recorded in the result, and the report footnotes them."""
import json
import types

from helpers.fakes import FakeEngine, collected_result
from harness.images import build
from harness.containers import engine
from helpers import run_cli


def test_every_env_variable_the_user_set_is_recorded(tmp_path, monkeypatch):
    from helpers.fakes import FakeContainer
    from harness.runs import provenance
    from harness.results import results
    monkeypatch.setattr(build, "ensure_built", lambda image, **kw: types.SimpleNamespace(
        image_id="sha256:" + "cd" * 32, built=False))
    fake = FakeEngine(FakeContainer(b""), writes=json.dumps(collected_result()))
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
    doc = collected_result()
    doc["provenance"]["user_env"] = {"OMP_NUM_THREADS": "4", "B": "2"}
    folder = tmp_path / "r1" / "pytorch-2.13" / "cnn-r1"
    folder.mkdir(parents=True)
    results.write(doc, str(folder / "result.json"))
    written = report.render_report(str(tmp_path))
    with open(written["html"], encoding="utf-8") as f:
        assert "<dt>environment set (-e)</dt><dd>B=2 OMP_NUM_THREADS=4</dd>" in f.read()
    with open(written["md"], encoding="utf-8") as f:
        assert "environment set (-e) B=2 OMP\\_NUM\\_THREADS=4" in f.read()
