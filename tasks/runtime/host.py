"""The Python side of a host program (a framework module's HOST: runtime/rhost.R for R,
runtime/jlhost.jl for Julia): runs the runtime's script as __main__ in the Python the host
embedded, and holds what the host handed over: source (load files of the host's language, get
their functions by name as Python callables) and session (the host's versions). Standard library
only."""
from __future__ import absolute_import, division, print_function
import os
import runpy
import sys

source = None   # set by the host: source(paths) -> {name: callable}
session = None  # set by the host: {"version": ..., and what else it reports}


def hosted():
    """Whether this Python runs inside a host program (the host set source)."""
    return source is not None


def run_script(argv):
    """Run argv[0] (tasks/run.py, tasks/check_model.py, a bench script) as its own process would,
    with argv; its exit status as an int."""
    sys.argv = [str(a) for a in argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        sys.stderr.write("%s\n" % e.code)
        return 1
    return 0
