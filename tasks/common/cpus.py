"""The CPUs a run may use: one answer for the runtime, the measurements and the task files.

Python 2.7 (the cntk-2.7 image) and 3.5+: os.sched_getaffinity and os.cpu_count are Python 3's,
multiprocessing.cpu_count is in both."""
from __future__ import absolute_import, division, print_function
import multiprocessing
import os


def available():
    """The CPUs this process may run on: its affinity mask (a container's --cpuset-cpus, a
    SLURM allocation) where the OS keeps one, else every CPU."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))  # novm: Python 3 only, guarded
    return total()


def total():
    """Every CPU the machine has (the count frameworks size their thread pools by)."""
    return multiprocessing.cpu_count()
