"""One exception tree for Lettrage.

    LettrageError
    ├── ConfigurationError            bad or missing settings; fix the config, do not retry
    ├── DataError                     bad input data; the row goes to quarantine
    │   ├── InvalidAmount
    │   ├── UnknownCurrency
    │   ├── InvalidDate
    │   ├── RowError                  a row of a file failed (file, line, field, reason)
    │   └── WrongFormat               a whole file is not what the source expects
    ├── SourceError                   a source system misbehaved
    │   ├── TransientSourceError      network, 429, 5xx: retried with backoff
    │   │   └── RateLimited
    │   ├── PermanentSourceError      auth, not found, bad request: never retried
    │   │   ├── AuthenticationExpired
    │   │   └── ResourceGone              410: the API no longer serves it (keep what was loaded)
    │   └── RetriesExhausted          the retry budget ran out (names endpoint and cursor)
    ├── WarehouseError                the warehouse refused a statement or a contract check failed
    │   └── ContractViolation
    └── EntitiesFailed                a run over several entities finished the others; these failed (named)

Every message names the thing (file and line, URL and status, table and column)
and, where it helps, what to do next.
"""

from __future__ import annotations

from typing import Any


class LettrageError(Exception):
    """Base of every error Lettrage raises on purpose."""


class ConfigurationError(LettrageError):
    """Settings are missing or invalid."""


class DataError(LettrageError):
    """Input data cannot be used as it is."""


class InvalidAmount(DataError):
    def __init__(self, value: Any, reason: str = "invalid amount") -> None:
        self.value, self.reason = value, reason
        super().__init__(f"invalid amount {value!r}: {reason}")


class UnknownCurrency(DataError):
    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__(f"unknown currency {value!r} (expected an ISO 4217 code such as EUR)")


class InvalidDate(DataError):
    def __init__(self, value: Any, expected: str) -> None:
        self.value, self.expected = value, expected
        super().__init__(f"invalid date {value!r}: expected {expected}")


class RowError(DataError):
    """A row of a source file that cannot be loaded; goes to the quarantine table."""

    def __init__(self, file: str, line: int, field: str | None, reason: str, raw: str | None = None) -> None:
        self.file, self.line, self.field, self.reason, self.raw = file, line, field, reason, raw
        where = f"{file}:{line}" + (f" field {field}" if field else "")
        super().__init__(f"{where}: {reason}")


class WrongFormat(DataError):
    """A whole file is not in the format the source reads."""

    def __init__(self, file: str, expected: str, found: str) -> None:
        self.file, self.expected, self.found = file, expected, found
        super().__init__(f"{file}: expected {expected}, found {found}")


class SourceError(LettrageError):
    """A source system (API or file drop) failed."""


class TransientSourceError(SourceError):
    """Worth retrying: network failure, 429, 5xx."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RateLimited(TransientSourceError):
    """HTTP 429; ``retry_after`` carries the server's hint in seconds."""


class PermanentSourceError(SourceError):
    """Not worth retrying: authentication, permissions, bad request."""


class AuthenticationExpired(PermanentSourceError):
    """Credentials were refused or expired; renew them and run again."""


class ResourceGone(PermanentSourceError):
    """HTTP 410: the provider stopped serving this (e.g. GoCardless payout items older than six months)."""


class RetriesExhausted(SourceError):
    def __init__(self, endpoint: str, cursor: str | None, attempts: int, last: BaseException | None) -> None:
        self.endpoint, self.cursor, self.attempts, self.last = endpoint, cursor, attempts, last
        super().__init__(
            f"gave up on {endpoint} at cursor {cursor!r} after {attempts} attempts: {last}; "
            "the run kept everything loaded before this page, re-run to resume"
        )


class WarehouseError(LettrageError):
    """The warehouse refused a statement."""


class ContractViolation(WarehouseError):
    """A contract table or check does not hold."""


class EntitiesFailed(LettrageError):
    """A run over several entities (reminders, statements) failed for some of them and did the others: ``failed``
    names each failed entity with its reason, ``results`` holds what the others did."""

    def __init__(self, what: str, failed: dict[str, str], results: dict[str, Any], total: int) -> None:
        self.failed, self.results = failed, results
        parts = "; ".join(f"{entity} ({reason})" for entity, reason in sorted(failed.items()))
        super().__init__(f"{what}: {len(failed)} of {total} entit{'y' if total == 1 else 'ies'} failed: {parts}")
