"""The documentation: README.md is a short front page, the reference is docs/ built by MkDocs in
strict mode (mkdocs.yml; `make docs`), so a broken link or anchor between the pages fails here."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import unicodedata

import pytest

from helpers import HANG_S, ROOT

DOCS = os.path.join(ROOT, "docs")
README = os.path.join(ROOT, "README.md")
MKDOCS_YML = os.path.join(ROOT, "mkdocs.yml")
README_MAX_LINES = 200

# a nav entry: "  - Title: page.md" (or "  - page.md")
NAV_ENTRY = re.compile(r"^\s+-\s+(?:[^:\n]+:\s+)?(\S+\.md)\s*$")
# a Markdown link or image target: ](target) or ](target#anchor)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def nav_pages(text):
    """The pages mkdocs.yml's nav lists, in order (the block under `nav:`)."""
    pages, in_nav = [], False
    for line in text.splitlines():
        if re.match(r"^nav:\s*$", line):
            in_nav = True
        elif in_nav and line and not line[0].isspace():
            break
        elif in_nav:
            m = NAV_ENTRY.match(line)
            if m:
                pages.append(m.group(1))
    return pages


def slug(heading):
    """Python-Markdown's toc slug of a heading (its default slugify); code spans, links as text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(markdown):
    found, fence = set(), False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and re.match(r"^#{1,6} ", line):
            found.add(slug(line.lstrip("#").strip()))
    return found


def mkdocs_build(config_dir, site_dir):
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site_dir)], cwd=str(config_dir), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=HANG_S)


def need_mkdocs():
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]')")


def test_the_site_builds_in_strict_mode(tmp_path):
    need_mkdocs()
    site = tmp_path / "site"
    out = mkdocs_build(ROOT, site)
    assert out.returncode == 0, out.stdout
    for page in nav_pages(read(MKDOCS_YML)):
        name = page[:-len(".md")]
        built = site / ("index.html" if name == "index" else os.path.join(name, "index.html"))
        assert built.is_file(), "%s: no %s in the built site" % (page, built)


def test_strict_mode_fails_on_a_broken_anchor_or_page(tmp_path):
    """The validation settings of mkdocs.yml make a broken link a warning, --strict an error."""
    need_mkdocs()
    copy = tmp_path / "repo"
    shutil.copytree(DOCS, str(copy / "docs"))
    shutil.copy(MKDOCS_YML, str(copy / "mkdocs.yml"))
    with open(str(copy / "docs" / "index.md"), "a", encoding="utf-8") as f:
        f.write("\n[gone](cluster.md#no-such-section) and [missing](no-such-page.md)\n")
    out = mkdocs_build(copy, tmp_path / "site")
    assert out.returncode != 0, out.stdout
    assert "no-such-section" in out.stdout and "no-such-page.md" in out.stdout, out.stdout


def test_the_readme_is_a_short_front_page():
    lines = read(README).splitlines()
    assert 0 < len(lines) <= README_MAX_LINES, (
        "README.md has %d lines (at most %d): move reference material into docs/"
        % (len(lines), README_MAX_LINES))


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = nav_pages(read(MKDOCS_YML))
    assert "index.md" in nav, nav
    assert len(nav) == len(set(nav)), "a page listed twice: %s" % nav
    pages = sorted(name for name in os.listdir(DOCS) if name.endswith(".md"))
    assert sorted(nav) == pages, "nav %s, docs/ %s" % (sorted(nav), pages)


def test_the_readme_links_to_docs_pages_and_anchors_that_exist():
    links = [target for target in LINK.findall(read(README)) if target.startswith("docs/")]
    assert len(links) >= 10, links  # the page list, at least
    for target in links:
        path, _, anchor = target.partition("#")
        full = os.path.join(ROOT, path)
        assert os.path.isfile(full), "README.md links to %s: no such file" % target
        if anchor:
            assert anchor in anchors(read(full)), "README.md links to %s: no such anchor" % target


def test_the_slug_follows_python_markdown():
    assert slug("FLOPs, MFU and energy") == "flops-mfu-and-energy"
    assert slug("Model equivalence: `dlbench check-models`") == \
        "model-equivalence-dlbench-check-models"
    assert slug("Preparing the 264x264 copies") == "preparing-the-264x264-copies"
