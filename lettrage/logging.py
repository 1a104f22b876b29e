"""Logging that never leaks an IBAN, an email address or a secret.

A :class:`MaskingFilter` rewrites every record before any handler sees it:
IBANs and emails keep their last four characters, registered secrets vanish.
Install it once (``install_masking()``) on the root logger and on Prefect's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it would be logged."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def mask_tail(value: str, keep: int = 4) -> str:
    compact = value.replace(" ", "")
    return "*" * max(len(compact) - keep, 0) + compact[-keep:]


def mask_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """Mask secrets, IBANs and emails inside free text."""
    for secret in sorted(set(secrets or ()) | _SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = IBAN_RE.sub(lambda m: mask_tail(m.group(0)), text)
    return EMAIL_RE.sub(lambda m: mask_tail(m.group(0)), text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record as it is
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_masking(*logger_names: str) -> None:
    """Attach the masking filter to the given loggers' handlers (root by default)."""
    names = logger_names or ("",)
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())
        for handler in logger.handlers:
            if not any(isinstance(f, MaskingFilter) for f in handler.filters):
                handler.addFilter(MaskingFilter())


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
