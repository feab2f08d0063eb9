"""The one clock of every timed span: the runtime's loops (runtime/protocol.py), the energy
meter's segments (they start and stop on the loops' own readings) and the peak probe's samples.
Monotonic, the highest resolution Python offers (3.3+); 2.7 (the CNTK image) has no
perf_counter, and there the best monotonic-enough source is time.time."""
from __future__ import absolute_import, division, print_function
import time

clock = getattr(time, "perf_counter", time.time)
