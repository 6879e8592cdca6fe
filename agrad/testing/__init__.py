"""Testing helpers for agrad and for third-party backends.

* :func:`gradcheck` compares the engine's gradients with central finite differences.
* :func:`randn` / :func:`rand` make reproducible random tensors on the active backend.
* ``agrad.testing.plugin`` is the pytest plugin behind the conformance suite (``--backend``).
"""

from agrad.testing._gradcheck import GradcheckError, gradcheck, gradgradcheck
from agrad.testing._random import rand, randn

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "rand", "randn"]
