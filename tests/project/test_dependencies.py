"""Every package harness/ imports (lazy imports inside functions included) is installed by the
README's `pip install -e .`: a command in `--help` works after the documented install (before,
`dlbench check-models` died with "No module named 'numpy'", numpy being in the test extra only).
The one exception is named with its reason."""
import ast
import os
import re
import sys

from helpers import ROOT
# import name -> distribution name, where they differ
DISTRIBUTION = {"pypi_simple": "pypi-simple"}
# imported by a make target's module, not by a command: installed by the test extra
NOT_A_COMMAND = {"playwright": "harness/results/browser.py (make report-screenshot)"}


def third_party_imports(folder):
    found = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    mods = [node.module]
                else:
                    continue
                for mod in mods:
                    top = mod.split(".")[0]
                    if top not in sys.stdlib_module_names and top != "harness":
                        found.setdefault(top, set()).add(os.path.relpath(path, ROOT))
    return found


def declared(section):
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    block = re.search(r"^%s = \[(.*?)^\]" % re.escape(section), text, re.S | re.M).group(1)
    return set(re.match(r"[A-Za-z0-9_.-]+", line.strip().strip('"')).group(0).lower()
               for line in block.splitlines() if line.strip().startswith('"'))


def test_every_import_of_the_host_side_is_a_dependency():
    deps = declared("dependencies")
    found = third_party_imports(os.path.join(ROOT, "harness"))
    assert "numpy" in found and "click" in found  # the scan sees lazy and top-level imports
    missing = ["%s (%s)" % (mod, ", ".join(sorted(where))) for mod, where in sorted(found.items())
               if DISTRIBUTION.get(mod, mod).lower() not in deps and mod not in NOT_A_COMMAND]
    assert not missing, "not in [project] dependencies: %s" % "; ".join(missing)


def test_the_exceptions_are_in_the_test_extra():
    test_extra = declared("test")
    for mod in NOT_A_COMMAND:
        assert DISTRIBUTION.get(mod, mod) in test_extra
