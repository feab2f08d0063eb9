"""The columns whose task files are another language's programs, run by a host that embeds the
runtime's Python: R-Keras(TF) (tasks/<task>/rkeras.R, Rscript + reticulate) and Knet
(tasks/<task>/knet.jl, Julia + PyCall), called from tasks/<task>/<adapter>.py; their processes
re-execute under the host (runtime/adapters.py rehost). These checks need neither R nor Julia:
what each side names must exist on the other, and the re-execution itself is run for real with
a Python host standing in for Rscript. The R side runs in the r-keras image
(tests/engine/test_engine_frameworks.py, test_engine_equivalence.py); the Julia side in no image
built here (images/knet is a 2017 recipe)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from helpers import HANG_S, ROOT
TASKS = os.path.join(ROOT, "tasks")
R_DEFINITION = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*) <- function\(", re.M)
# Julia: `function name(` or a one-line `name(args) =` at the start of a line
JULIA_DEFINITION = re.compile(r"^(?:function ([A-Za-z_][A-Za-z0-9_!]*)\(|"
                              r"([A-Za-z_][A-Za-z0-9_!]*)\([^\n]*\)\s*=[^=])", re.M)


def r_functions(path):
    with open(path) as f:
        return set(R_DEFINITION.findall(f.read()))


@pytest.mark.parametrize("task", ["cnn", "rnn", "inference"])
def test_every_r_function_the_python_side_calls_is_defined(task):
    with open(os.path.join(TASKS, task, "rkeras.py")) as f:
        called = set(re.findall(r'R\["([A-Za-z_.0-9]+)"\]', f.read()))
    defined = r_functions(os.path.join(TASKS, task, "rkeras.R"))
    assert called and called <= defined, called - defined


@pytest.mark.parametrize("task", ["cnn", "rnn", "inference"])
def test_the_r_task_files_call_only_defined_r_keras_functions(task):
    """Each R keras name a task file calls (keras_*, layer_*, optimizer_*, loss_*, application_*,
    backend_*, predict_*, and fit/compile/train_on_batch/count_params) is defined by
    tasks/common/rkeras.R: R's keras package is not there to supply it."""
    common = r_functions(os.path.join(TASKS, "common", "rkeras.R"))
    with open(os.path.join(TASKS, task, "rkeras.R")) as f:
        code = "\n".join(line.split("#")[0] for line in f)
    calls = set(re.findall(r"\b((?:keras|layer|optimizer|loss|application|backend|predict)_"
                           r"[a-z0-9_]+|fit|compile|train_on_batch|count_params)\(", code))
    calls -= r_functions(os.path.join(TASKS, task, "rkeras.R"))  # the task's own functions
    assert calls and calls <= common, calls - common


def julia_functions(path):
    with open(path) as f:
        return set(a or b for a, b in JULIA_DEFINITION.findall(f.read()))


@pytest.mark.parametrize("task", ["cnn", "rnn", "inference"])
def test_every_julia_function_the_python_side_calls_is_defined(task):
    with open(os.path.join(TASKS, task, "knet.py")) as f:
        called = set(re.findall(r'JULIA\["([A-Za-z_!0-9]+)"\]', f.read()))
    defined = julia_functions(os.path.join(TASKS, task, "knet.jl"))
    assert called and called <= defined, called - defined


@pytest.mark.parametrize("task", ["cnn", "rnn", "inference"])
def test_the_julia_task_files_use_only_what_common_defines_or_knet_exports(task):
    """whcn, labels, classes: tasks/common/knet.jl's, included before each task file."""
    common = julia_functions(os.path.join(TASKS, "common", "knet.jl"))
    assert {"init", "whcn", "labels", "classes"} <= common
    with open(os.path.join(TASKS, task, "knet.jl")) as f:
        code = f.read()
    used = set(re.findall(r"\b(whcn|labels|classes)\(", code))
    assert used <= common


def test_rkeras_declares_its_r_host():
    from harness.core import taskfiles
    fw = taskfiles.load("rkeras", TASKS).module
    assert fw.HOST[0] == "Rscript" and fw.HOST[1].endswith(os.path.join("runtime", "rhost.R"))
    assert os.path.exists(os.path.join(TASKS, "runtime", "rhost.R"))
    fw = taskfiles.load("knet", TASKS).module
    assert fw.HOST[0] == "julia" and fw.HOST[1].endswith(os.path.join("runtime", "jlhost.jl"))
    assert os.path.exists(fw.HOST[1])


def test_a_script_re_executes_once_under_its_host(tmp_path):
    """rehost replaces the process with HOST + the script's path and arguments, marks the hosted
    process, and does nothing there: a Python host that prints what it was given stands in for
    Rscript."""
    host = tmp_path / "host.py"
    host.write_text(textwrap.dedent("""\
        import os, sys
        print("hosted", sys.argv[1:], os.environ.get("DLBENCH_HOSTED_BY"))
        """))
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""\
        import sys, types
        sys.path.insert(0, %r)
        from runtime import adapters
        fw = types.SimpleNamespace(HOST=[%r, %r])
        adapters.rehost(fw)
        print("not hosted")
        """ % (TASKS, sys.executable, str(host))))
    out = subprocess.run([sys.executable, str(script), "cnn", "--adapter", "x"],
                         capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hosted %r %s" % (
        [str(script), "cnn", "--adapter", "x"], sys.executable)
    # the hosted process (the marker set) goes on instead of re-executing again
    env = dict(os.environ, DLBENCH_HOSTED_BY=sys.executable)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=HANG_S, env=env)
    assert out.stdout.strip() == "not hosted", out.stderr


def test_a_framework_without_a_host_runs_where_it_is(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys, types\nsys.path.insert(0, %r)\nfrom runtime import adapters\n"
                      "adapters.rehost(types.SimpleNamespace())\nprint('here')\n" % TASKS)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=HANG_S)
    assert out.stdout.strip() == "here", out.stderr


def test_without_its_host_program_the_script_runs_where_it_is_and_load_says_why(tmp_path):
    """No Rscript here (the host machine): rehost does not exec; the framework's load() then
    fails with the one line saying where the adapter runs."""
    script = tmp_path / "script.py"
    script.write_text("import sys, types\nsys.path.insert(0, %r)\nfrom runtime import adapters\n"
                      "adapters.rehost(types.SimpleNamespace(HOST=['no-such-host-program-x']))\n"
                      "from frameworks import rkeras\n"
                      "try:\n    rkeras.load()\nexcept RuntimeError as e:\n    print(e)\n"
                      % TASKS)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=HANG_S)
    assert "run them in the r-keras image" in out.stdout, out.stderr
