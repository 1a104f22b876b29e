"""Lettrage: receivables integration hub.

The ``lettrage`` package is the small shared core (money, errors, configuration,
logging with masking) plus the command line. Sources live in ``connectors/``,
SQL and reconciliation in ``warehouse/``, runbooks in ``flows/``.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
