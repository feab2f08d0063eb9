"""What a run measures besides its timings: the environment probe, BLAS, the fp32 peak, energy,
FLOPs, and the clock they share. Python 3.5 syntax (2.7 too), stdlib + numpy only; imports common/."""
from __future__ import absolute_import, division, print_function
