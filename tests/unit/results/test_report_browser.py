"""The rendered report in headless Chromium (Debian package `chromium`), driven by Playwright:
no console errors or uncaught exceptions, the charts are in the rendered DOM with
visible bars, and a full-page screenshot comes out. Skipped only when Chromium (or the
playwright test dependency) is missing outside CI; with CI=true that is a failure."""
import os

import pytest

from harness.results import browser, report
from helpers.results import make_results


def _need_browser():
    problem = None
    if not browser.find_chromium():
        problem = "no chromium binary (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but " + problem)
        pytest.skip(problem)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    _need_browser()
    root = str(tmp_path_factory.mktemp("results"))
    make_results(root)
    written = report.render_report(root)
    with browser.Chromium(width=1400) as b:
        b.open(written["html"])
        info = {
            "problems": b.console_problems(),
            "charts": b.evaluate("""Array.from(document.querySelectorAll('svg.chart')).map(s => {
                const r = s.getBoundingClientRect();
                const bars = Array.from(s.querySelectorAll('g.bar rect'))
                    .filter(x => x.getBoundingClientRect().width > 0);
                return {id: s.id, w: r.width, h: r.height, bars: bars.length,
                        synthetic: s.querySelectorAll('g.bar.synthetic').length};
            })"""),
            "tables": b.evaluate("document.querySelectorAll('table.results').length"),
            "densenet_tables": b.evaluate("document.querySelectorAll('table.densenet').length"),
            "synthetic_rows": b.evaluate(
                "document.querySelectorAll('table.results tr.runrow.synthetic').length"),
            "title": b.evaluate("document.title"),
            "overflow": b.evaluate("document.documentElement.scrollWidth"),
        }
        png = os.path.join(root, "report.png")
        b.screenshot(png)
        info["png"] = png
    return info


def test_no_console_errors(page):
    assert page["problems"] == []


def test_charts_are_rendered_with_bars(page):
    ids = [c["id"] for c in page["charts"]]
    assert ids == ["chart-cnn-time", "chart-cnn-ips", "chart-rnn-time", "chart-rnn-ips",
                   "chart-inference-time"]
    for c in page["charts"]:
        assert c["w"] > 300 and c["h"] > 100, c
        assert c["bars"] >= 10, c  # the 2017 reference bars at least
    ips = [c for c in page["charts"] if c["id"] == "chart-cnn-ips"][0]
    assert ips["synthetic"] == 1


def test_tables_render(page):
    assert page["tables"] == 3
    assert page["densenet_tables"] == 2  # DenseNet: real and synthetic data, as 2017 had them
    assert page["synthetic_rows"] >= 2  # the CNN CPU row and the inference rows
    assert page["title"].startswith("dlbench report")
    assert page["overflow"] <= 1400  # no horizontal scrolling at a desktop width


def test_screenshot_is_a_full_page_png(page):
    with open(page["png"], "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(head[16:20], "big")
    height = int.from_bytes(head[20:24], "big")
    assert width == 1400 and height > 3000


def test_console_check_can_fail(tmp_path):
    """The console check is not vacuous: a page that logs an error and throws is caught."""
    _need_browser()
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><title>x</title><script>console.error('boom');"
                   "undefinedFunction();</script>")
    with browser.Chromium() as b:
        b.open(str(bad))
        problems = b.console_problems()
    assert any("boom" in p for p in problems)
    assert any("uncaught" in p or "undefinedFunction" in p for p in problems)
