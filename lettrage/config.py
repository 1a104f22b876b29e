"""Where the warehouse lives and which dataset holds it.

Configuration follows dlt's conventions: environment variables first
(``LETTRAGE__WAREHOUSE_URL``), then ``.dlt/config.toml`` / ``.dlt/secrets.toml``
under the ``[lettrage]`` section. The default is a DuckDB file in the working
directory, so a fresh clone needs no setup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from lettrage.errors import ConfigurationError

DEFAULT_WAREHOUSE_URL = "duckdb:///warehouse.duckdb"
DEFAULT_DATASET = "lettrage"


@dataclass(frozen=True, slots=True)
class WarehouseConfig:
    """A warehouse location. The default file is ``warehouse.duckdb``, not ``lettrage.duckdb``: DuckDB
    names a file's catalog after it, and a catalog named like the ``lettrage`` schema makes every
    ``lettrage.<table>`` reference ambiguous (dlt's own queries included).

    A warehouse location: ``duckdb:///path/file.duckdb`` or ``postgresql://user:pw@host:port/db``."""

    url: str = DEFAULT_WAREHOUSE_URL
    dataset: str = DEFAULT_DATASET

    @property
    def engine(self) -> str:
        scheme = urlparse(self.url).scheme.split("+")[0]
        if scheme == "duckdb":
            return "duckdb"
        if scheme in ("postgres", "postgresql"):
            return "postgres"
        raise ConfigurationError(
            f"unsupported warehouse URL scheme {scheme!r} in {redact_url(self.url)}: "
            "use duckdb:///path/to/file.duckdb or postgresql://user:password@host:5432/db"
        )

    @property
    def duckdb_path(self) -> Path:
        if self.engine != "duckdb":
            raise ConfigurationError("duckdb_path asked of a non-DuckDB warehouse")
        path = self.url[len("duckdb:///"):] if self.url.startswith("duckdb:///") else urlparse(self.url).path
        return Path(path or "warehouse.duckdb")

    def postgres_url(self) -> str:
        """Postgres URL with a placeholder password: dlt insists on one even under trust auth."""
        parsed = urlparse(self.url)
        if parsed.password:
            return self.url.replace("postgres://", "postgresql://", 1)
        user = parsed.username or "postgres"
        host = parsed.hostname or "127.0.0.1"
        port = parsed.port or 5432
        db = parsed.path.lstrip("/") or "postgres"
        query = f"?{parsed.query}" if parsed.query else ""
        return f"postgresql://{user}:placeholder@{host}:{port}/{db}{query}"


def redact_url(url: str) -> str:
    """Hide the password of a connection URL before it reaches a log line."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


def dlt_setting(key: str, *, secret: bool = False) -> str | None:
    """A value from dlt's providers (environment first, then ``.dlt/*.toml``) as text; None when unset.

    Unreadable config files count as unset: an optional setting must not stop a run, and the
    caller that needs the value is the one to say what to set. One reader for every optional
    setting (warehouse, SMTP, IMAP, payment providers) so they all behave the same.
    """
    try:
        import dlt

        value: object = (dlt.secrets if secret else dlt.config).get(key)
    except Exception:  # no config files, or dlt cannot read them: fall back to defaults
        return None
    return None if value is None else str(value)


def _from_dlt(key: str) -> str | None:
    value = dlt_setting(f"lettrage.{key}")
    return value if value is not None else dlt_setting(f"lettrage.{key}", secret=True)


def load_warehouse_config(url: str | None = None, dataset: str | None = None) -> WarehouseConfig:
    """Resolve the warehouse: explicit argument, then environment, then dlt config, then default."""
    url = (
        url
        or os.environ.get("LETTRAGE__WAREHOUSE_URL")
        or _from_dlt("warehouse_url")
        or DEFAULT_WAREHOUSE_URL
    )
    dataset = dataset or os.environ.get("LETTRAGE__DATASET") or _from_dlt("dataset") or DEFAULT_DATASET
    config = WarehouseConfig(url=url, dataset=dataset)
    config.engine  # validate early  # noqa: B018
    return config
