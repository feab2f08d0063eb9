"""`dlbench build` refuses a Dockerfile without the LABELs the catalog needs, in one line."""
import os

import pytest

from harness.containers import engine
from helpers import ROOT, one_line_error, run_cli


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
