"""What task files import: the hyper-parameters (params), canonical forms and the numpy reference
of the models, ChestX-ray14 reading. Python 3.5 syntax (2.7 too), stdlib + numpy only; imports
nothing from runtime/ or measure/."""
from __future__ import absolute_import, division, print_function
