"""The Python side of the R host (runtime/rhost.R): runs the runtime's script as __main__ in the
Python that reticulate embedded in R, and holds what R handed over: r_source (source R files,
get their functions as Python callables) and r_session (R's and reticulate's versions).
Standard library only."""
from __future__ import absolute_import, division, print_function
import os
import runpy
import sys

r_source = None   # set by rhost.R
r_session = None  # set by rhost.R


def hosted():
    """Whether this Python runs inside R (rhost.R set r_source)."""
    return r_source is not None


def run_script(argv):
    """Run argv[0] (tasks/run.py, tasks/check_model.py) as its own process would, with argv;
    its exit status as an int."""
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
