"""Hostile strings in results (Markdown pipes, control characters, HTML) are escaped in the
results table and both reports."""
import os
import re
from helpers import run_cli
from helpers.fakes import collected_result
from helpers.results import host_path

HOSTILE_REASON = ('<img src=x onerror=alert(1)> [click](http://evil.example) **loud** `code`'
                  '\n| injected | row |\x1b[2J\x1b]0;pwned\x07\r\u202eevil')


def _hostile_results(root):
    from harness.results import results
    docs = []
    bad = collected_result()
    # (image and variant are folder names, as the host writes them: no "/")
    bad.update(status="failed", reason=HOSTILE_REASON, variant="<b>v<i>|x",
               image="<script>alert(1)")
    bad["provenance"].update(image=bad["image"], run_id="r0")
    bad["env"]["cpu"] = "**CPU** <i>x</i> | y"
    docs.append(bad)
    good = collected_result()
    good["variant"] = "tuned\x1b[31m_red_"
    good["provenance"].update(host="[host](javascript:alert(1))", run_id="r1\x1b[2J\rFAKE")
    docs.append(good)
    for doc in docs:
        path = host_path(root, doc)
        os.makedirs(os.path.dirname(path))
        results.write(doc, path)


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
