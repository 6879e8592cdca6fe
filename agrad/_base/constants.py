"""Constants (the standard's chapter): plain Python floats, as the standard specifies."""

import math

e = math.e
inf = math.inf
nan = math.nan
newaxis = None
pi = math.pi
