"""The task runtime: adapters, the timing protocol, batches, result output, worker processes, the
dataset readers. Python 3.5 syntax (2.7 too), stdlib + numpy only; imports common/ and measure/."""
from __future__ import absolute_import, division, print_function
