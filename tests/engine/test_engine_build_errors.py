"""The engine's own reason a Dockerfile cannot be parsed reaches the user, in one line."""
import os

import pytest
from helpers import HANG_S, ROOT, one_line_error, run_cli


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
