"""genlab's version: one string, read by the package, checkpoints, run folders, the bench and packaging.

It lives in its own module at the bottom of the layers (``errors``, ``_version``), so that low layers such as
:mod:`genlab.checkpoint` can stamp it without importing the package (which imports everything above them).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
