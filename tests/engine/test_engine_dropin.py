"""A framework dropped in (tests/helpers/dropin.py) runs: a tiny `dlbench bench` of its image,
every variant its module declares."""
import pytest

from helpers.dropin import IMAGE, NEW, cli, scratch_repo


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return scratch_repo(tmp_path_factory)


@pytest.mark.engine
@pytest.mark.slow
def test_bench_runs_it(scratch, engine, tmp_path):
    try:
        res = cli(scratch, "bench", IMAGE, "--synthetic", "--task", "cnn", "--variant", "all",
                  "--epochs", "1", "--limit", "64", "--results-dir", str(tmp_path / "results"))
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        import json
        import glob
        found = [json.load(open(p)) for p in glob.glob(str(tmp_path / "results/*/*/*/result.json"))]
        assert sorted(r["variant"] for r in found) == ["reference", "tuned"]
        for r in found:
            assert r["status"] == "ok" and r["framework"] == NEW and r["adapter"] == NEW
            assert r["provenance"]["image"] == IMAGE
    finally:
        try:
            engine.images.remove("dlbench/%s:latest" % IMAGE, force=True)
        except Exception:
            pass
