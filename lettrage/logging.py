"""Logging that never leaks an IBAN, an email address or a secret.

A :class:`MaskingFilter` rewrites every record before any handler sees it:
IBANs and emails keep their last four characters, registered secrets vanish.
Install it once (``install_masking()``) on the root logger and on Prefect's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Not \b: an IBAN inside a file name (``FR76..._2025-01.xml``) touches an underscore, a word character.
IBAN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
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


_RECORD_FACTORY_INSTALLED = False


def install_record_masking() -> None:
    """Mask every log record when it is created, whichever logger and handler it goes to.

    A filter on a logger only sees records created on that very logger, and a filter
    on a handler only guards the handlers present when it was installed; records of
    libraries (dlt, httpx, connectors) propagating to a handler added later (pytest's
    capture, an ops file handler, Prefect's API handler) would pass unmasked. The
    record factory is the one place every record goes through. Idempotent.
    """
    global _RECORD_FACTORY_INSTALLED
    if _RECORD_FACTORY_INSTALLED:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)  # type: ignore[arg-type]
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to the handler's error path
            return record
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)
    _RECORD_FACTORY_INSTALLED = True


def install_masking(*logger_names: str) -> None:
    """Mask every record (:func:`install_record_masking`) and attach the filter to the given loggers' handlers."""
    install_record_masking()
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
