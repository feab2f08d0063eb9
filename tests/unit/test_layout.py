"""harness/ is layered: each subpackage imports only the subpackages before it in
harness.LAYERS (lazy imports inside functions included), so the imports between them form no
cycle and the layout names the architecture."""
import ast
import os

import harness

HARNESS = os.path.dirname(os.path.abspath(harness.__file__))


def imports_between_subpackages(root=HARNESS):
    """{(from_subpackage, to_subpackage): [module names]} from every module's source under root."""
    found = {}
    for sub in sorted(os.listdir(root)):
        folder = os.path.join(root, sub)
        if not os.path.isfile(os.path.join(folder, "__init__.py")):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                targets = []
                if isinstance(node, ast.ImportFrom) and node.level == 2:
                    targets = [(node.module or "").split(".")[0]]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                        (node.module or "").startswith("harness."):
                    targets = [node.module.split(".")[1]]
                elif isinstance(node, ast.Import):
                    targets = [a.name.split(".")[1] for a in node.names
                               if a.name.startswith("harness.")]
                for target in targets:
                    found.setdefault((sub, target), []).append(name)
    return found


def test_every_subpackage_is_a_layer():
    subs = sorted(d for d in os.listdir(HARNESS)
                  if os.path.isfile(os.path.join(HARNESS, d, "__init__.py")))
    assert subs == sorted(harness.LAYERS)


def test_only_the_command_line_lives_at_the_top():
    top = sorted(f for f in os.listdir(HARNESS) if f.endswith(".py"))
    assert top == ["__init__.py", "cli.py"]


def upward_imports(found):
    order = dict((sub, k) for k, sub in enumerate(harness.LAYERS))
    return ["%s/%s imports %s" % (src, ", ".join(sorted(set(mods))), dst)
            for (src, dst), mods in sorted(found.items())
            if dst != src and order.get(dst, len(order)) >= order.get(src, -1)]


def test_each_subpackage_imports_only_the_layers_before_it():
    found = imports_between_subpackages()
    assert ("launch", "runs") in found, "the scan misses imports between subpackages"
    assert not upward_imports(found)


def test_a_lazy_upward_import_is_caught(tmp_path):
    """A `from ..launch import bench` inside a function of core/ breaks the layering."""
    for sub in ("core", "launch"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "__init__.py").write_text("")
    (tmp_path / "core" / "paths.py").write_text("def f():\n    from ..launch import bench\n")
    assert upward_imports(imports_between_subpackages(str(tmp_path))) == \
        ["core/paths.py imports launch"]


def command_modules(group=None, prefix=""):
    """{command path: module file its logic lives in, or None} for every dlbench command: the
    module named as the command (hyphens as underscores) in some subpackage."""
    from harness.cli import main
    group = group or main
    found = {}
    for name, command in sorted(group.commands.items()):
        path = (prefix + " " + name).strip()
        if hasattr(command, "commands"):  # a group: `data` (its subcommands live in its module)
            found.update(command_modules(command, path))
        module = name.replace("-", "_")
        if name.startswith("vendor-"):  # vendor-build: the vendor module's second command
            module = "vendor"
        hits = [os.path.join(sub, module + ".py") for sub in harness.LAYERS
                if os.path.isfile(os.path.join(HARNESS, sub, module + ".py"))]
        found[path] = hits[0] if len(hits) == 1 else None
    return found


def test_each_command_lives_in_the_module_of_its_name():
    found = command_modules()
    assert found["bench"] == os.path.join("launch", "bench.py")
    assert found["check-models"] == os.path.join("checks", "check_models.py")
    assert {"list", "build", "push", "data", "results", "report", "doctor"} <= set(found)
    assert [path for path, module in found.items() if path.count(" ") == 0 and not module] == []


def engine_tests_by_folder(tests_root):
    """{folder under tests/: [file::test marked engine]} from every test file's source."""
    found = {}
    for folder, _, files in os.walk(tests_root):
        for name in sorted(f for f in files if f.startswith("test_") and f.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path) as f:
                tree = ast.parse(f.read())
            whole = any(isinstance(n, ast.Assign) and "engine" in ast.dump(n.value) and
                        getattr(n.targets[0], "id", "") == "pytestmark" for n in tree.body)
            for n in tree.body:
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test") and (
                        whole or any("engine" in ast.dump(d) for d in n.decorator_list)):
                    rel = os.path.relpath(folder, tests_root)
                    found.setdefault(rel, []).append("%s::%s" % (name, n.name))
    return found


def test_tests_mirror_the_code():
    """tests/unit/<subpackage> for each harness subpackage with tests, every engine test in
    tests/engine/, and no test module importing another (shared code is in tests/helpers/)."""
    from helpers import TESTS
    units = sorted(d for d in os.listdir(os.path.join(TESTS, "unit"))
                   if os.path.isdir(os.path.join(TESTS, "unit", d)) and d != "__pycache__")
    assert units and set(units) <= set(harness.LAYERS), units
    found = engine_tests_by_folder(TESTS)
    assert found.get("engine"), "the scan finds no engine test"
    assert [k for k in found if k != "engine"] == [], found
    cross = []
    for folder, _, files in os.walk(TESTS):
        for name in (f for f in files if f.endswith(".py")):
            with open(os.path.join(folder, name)) as f:
                for node in ast.walk(ast.parse(f.read())):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                            ("test_", "conftest")):
                        cross.append("%s imports %s" % (name, node.module))
    assert cross == []


def test_an_engine_test_outside_its_folder_is_found(tmp_path):
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "test_x.py").write_text(
        "import pytest\n\n\n@pytest.mark.engine\ndef test_y(engine):\n    pass\n")
    assert engine_tests_by_folder(str(tmp_path)) == {"unit": ["test_x.py::test_y"]}
