"""Which sources each entity syncs, and how to build their dlt sources.

The sources file (``sources.yaml``; path from ``LETTRAGE__SOURCES_FILE``) is
deployment configuration, not a mapping: it says where an entity's files are
dropped and which provider endpoints it uses. Secrets never live there: they
come from dlt's providers (environment ``SOURCES__STRIPE__FR01__API_KEY`` or
``.dlt/secrets.toml`` ``[sources.stripe.FR01] api_key = "..."``).

Example::

    entities:
      FR01:
        sage_fec: {path: data/FR01/sage_fec}
        camt053: {path: data/FR01/camt053}
        stripe: {}                      # api.stripe.com, key from secrets
        gocardless: {base_url: null}    # live API, token from secrets
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lettrage.errors import ConfigurationError
from lettrage.logging import register_secret

if TYPE_CHECKING:  # (the file machinery imports pyarrow: only when a job is built)
    from connectors._files import FileLoadStats

log = logging.getLogger("lettrage.connectors")

DEFAULT_SOURCES_FILE = Path("sources.yaml")
FILE_SOURCES = ("sage_fec", "sap_export", "camt053")
API_SOURCES = ("stripe", "gocardless")
ERP_API_SOURCES = ("sage_accounting", "netsuite", "sap_b1")
ALL_SOURCES = FILE_SOURCES + API_SOURCES + ERP_API_SOURCES


class SourceSettings(BaseModel):
    """Settings of one source for one entity; unknown keys are passed to the connector."""

    model_config = ConfigDict(extra="allow")
    path: str | None = None
    base_url: str | None = None
    enabled: bool = True


class SourcesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entities: dict[str, dict[str, SourceSettings]] = Field(default_factory=dict)
    root: Path = Path(".")

    def jobs(self, entities: list[str] | None = None, sources: list[str] | None = None) -> list[tuple[str, str]]:
        """(entity, source) pairs to sync, in a stable order."""
        out = []
        for entity in sorted(self.entities):
            if entities and entity not in entities:
                continue
            for source, settings in self.entities[entity].items():
                if settings.enabled and (not sources or source in sources):
                    out.append((entity, source))
        return out

    def settings(self, entity: str, source: str) -> SourceSettings:
        try:
            return self.entities[entity][source]
        except KeyError as exc:
            raise ConfigurationError(f"no source {source!r} configured for entity {entity!r}") from exc


def sources_file() -> Path:
    return Path(os.environ.get("LETTRAGE__SOURCES_FILE", str(DEFAULT_SOURCES_FILE)))


def load_sources_config(path: Path | None = None) -> SourcesConfig:
    path = path or sources_file()
    if not path.exists():
        raise ConfigurationError(
            f"no sources file at {path}: create one (see README, 'Configuration') "
            "or set LETTRAGE__SOURCES_FILE"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: expected a mapping with an 'entities' key")
        for entity, sources in (data.get("entities") or {}).items():
            unknown = set(sources or {}) - set(ALL_SOURCES)
            if unknown:
                raise ConfigurationError(
                    f"{path}: entity {entity} names unknown sources {sorted(unknown)}; known: {list(ALL_SOURCES)}"
                )
            for source, settings in (sources or {}).items():
                _check_settings(path, entity, source, settings)
        return SourcesConfig.model_validate({**data, "root": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:  # (its own message says "<unicode string>, line 3": the file is ours to name)
        raise ConfigurationError(f"{path}: not valid YAML: {str(exc).replace('<unicode string>', str(path))}") from exc


# Settings a source takes beyond path, base_url and enabled (each builder below passes these, and only these, on).
SOURCE_OPTIONS: dict[str, frozenset[str]] = {"netsuite": frozenset({"concurrency", "subsidiary"})}


def _check_settings(path: Path, entity: str, source: str, settings: object) -> None:
    """A setting no builder reads is refused by name: ignored, it would sync something else than what the file
    says (a misspelt ``subsidiarys: 3`` on a NetSuite OneWorld account would load every subsidiary into the entity)."""
    if settings is None:
        return
    if not isinstance(settings, dict):
        raise ConfigurationError(f"{path}: {entity}.{source} must be a mapping of settings, found {settings!r}")
    known = {"path", "base_url", "enabled"} | SOURCE_OPTIONS.get(source, frozenset())
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigurationError(f"{path}: {entity}.{source} has settings no source reads {unknown}; "
                                 f"known: {sorted(known)}")


def secret(source: str, entity: str, name: str, *, masked: bool = True) -> str:
    """A secret from dlt's providers, registered for masking before anyone can log it (``masked``; an identifier kept
    beside the credentials, such as the SAP Business One company database, is read the same way but named in errors:
    a refused login must say which company it was refused for)."""
    import dlt

    value: object = dlt.secrets.get(f"sources.{source}.{entity}.{name}")
    if value is None:
        env = f"SOURCES__{source.upper()}__{entity.upper()}__{name.upper()}"
        raise ConfigurationError(
            f"missing secret {name} for {source}/{entity}: set {env} or "
            f"[sources.{source}.{entity}] {name} in .dlt/secrets.toml"
        )
    if masked:
        register_secret(str(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class SourceJob:
    """A ready-to-run dlt source and the pipeline name that keeps its state.

    ``stats`` (file sources): filled while the source runs with what each file gave, so the run can
    say which files were rejected (not in the source's format: nothing read from them).
    """

    entity: str
    source: str
    pipeline_name: str
    dlt_source: Any
    stats: FileLoadStats | None = None

    @property
    def rejected_files(self) -> list[str]:
        """Files of this run rejected as not in the source's format (after the source ran)."""
        return [f.file for f in self.stats.files if f.rejected] if self.stats is not None else []


Builder = Callable[[str, SourceSettings, Path, date | None, date | None], Any]
# a file source: (entity, settings, drop-folder root, the stats it fills with what each file gave, whether to read
# again the files it loaded before)
FileBuilder = Callable[[str, SourceSettings, Path, "FileLoadStats", bool], Any]


def _resolve(root: Path, path: str | None, source: str, entity: str) -> Path:
    """The drop folder (or file, or glob) of a file source; one that does not exist fails the source by name: a typo
    in the folder loaded nothing every night, reported as a successful load of 0 rows."""
    if not path:
        raise ConfigurationError(f"{source}/{entity}: 'path' (a folder or glob of dropped files) is required")
    p = Path(path)
    resolved = p if p.is_absolute() else root / p
    parts = resolved.parts
    fixed = Path(*parts[:next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), len(parts))])
    if not fixed.exists():
        raise ConfigurationError(f"{source}/{entity}: path {resolved} does not exist ({fixed} is missing): create the "
                                 "drop folder, or correct 'path' in the sources file")
    return resolved


def _sage_fec(entity: str, s: SourceSettings, root: Path, stats: FileLoadStats, reread: bool = False) -> Any:
    from connectors.sage_fec import sage_fec_source

    _exports_not_reread("sage_fec", entity, reread)
    return sage_fec_source(location=str(_resolve(root, s.path, "sage_fec", entity)), entity=entity, stats=stats)


def _sap_export(entity: str, s: SourceSettings, root: Path, stats: FileLoadStats, reread: bool = False) -> Any:
    from connectors.sap_export import sap_export_source

    _exports_not_reread("sap_export", entity, reread)
    return sap_export_source(location=str(_resolve(root, s.path, "sap_export", entity)), entity=entity, stats=stats)


def _camt053(entity: str, s: SourceSettings, root: Path, stats: FileLoadStats, reread: bool = False) -> Any:
    from connectors.camt053 import camt053_source

    return camt053_source(location=str(_resolve(root, s.path, "camt053", entity)), entity=entity, stats=stats,
                          reread=reread)


def _exports_not_reread(source: str, entity: str, reread: bool) -> None:
    """ERP exports are read when dropped, never again: each export of a year replaces that year's lines, so reading
    every export a folder holds in one run would set older ones against the latest (the run quarantines an entry met
    twice). A statement is one day's entries, and reads again safely (camt053)."""
    if reread:
        log.warning("%s/%s: exports are not read again (drop the export again to reload it); only bank statements are",
                    source, entity)


def _stripe(entity: str, s: SourceSettings, root: Path, start: date | None, end: date | None) -> Any:
    from connectors.stripe import stripe_source

    return stripe_source(
        entity=entity, api_key=secret("stripe", entity, "api_key"), base_url=s.base_url,
        start_date=start, end_date=window_end(end),
    )


def _gocardless(entity: str, s: SourceSettings, root: Path, start: date | None, end: date | None) -> Any:
    from connectors.gocardless import gocardless_source

    return gocardless_source(
        entity=entity, access_token=secret("gocardless", entity, "access_token"), base_url=s.base_url,
        start_date=start, end_date=window_end(end),
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def window_end(end: date | None) -> date | None:
    """The cursor bound a backfill's last day gives the sources: the day after it. dlt's ``end_value`` is
    exclusive, and a record changed at 15:00 on the window's last day ("2026-11-26T15:00:00") sorts after
    "2026-11-26": passed as is, the last day's changes were left out of a backfill that names it."""
    return end + timedelta(days=1) if end is not None else None


def _sage_accounting(entity: str, s: SourceSettings, root: Path, start: date | None, end: date | None) -> Any:
    from connectors.sage_accounting import sage_accounting_source

    return sage_accounting_source(entity=entity, access_token=secret("sage_accounting", entity, "access_token"),
                                  base_url=s.base_url, start_date=_iso(start), end_date=_iso(window_end(end)))


def _netsuite(entity: str, s: SourceSettings, root: Path, start: date | None, end: date | None) -> Any:
    from connectors.netsuite import netsuite_source

    extra = {k: v for k, v in (s.model_extra or {}).items() if k in SOURCE_OPTIONS["netsuite"]}
    return netsuite_source(entity=entity, base_url=s.base_url, start_date=_iso(start), end_date=_iso(window_end(end)),
                           account_id=secret("netsuite", entity, "account_id"),
                           consumer_key=secret("netsuite", entity, "consumer_key"),
                           consumer_secret=secret("netsuite", entity, "consumer_secret"),
                           token_id=secret("netsuite", entity, "token_id"),
                           token_secret=secret("netsuite", entity, "token_secret"), **extra)


def _sap_b1(entity: str, s: SourceSettings, root: Path, start: date | None, end: date | None) -> Any:
    from connectors.sap_b1 import sap_b1_source

    if not s.base_url:
        raise ConfigurationError(f"sap_b1/{entity}: 'base_url' (https://<host>:50000) is required")
    return sap_b1_source(entity=entity, base_url=s.base_url, start_date=_iso(start), end_date=_iso(window_end(end)),
                         company_db=secret("sap_b1", entity, "company_db", masked=False),
                         user=secret("sap_b1", entity, "user"),
                         password=secret("sap_b1", entity, "password"))


FILE_BUILDERS: dict[str, FileBuilder] = {
    "sage_fec": _sage_fec,
    "sap_export": _sap_export,
    "camt053": _camt053,
}
BUILDERS: dict[str, Builder] = {
    "stripe": _stripe,
    "gocardless": _gocardless,
    "sage_accounting": _sage_accounting,
    "netsuite": _netsuite,
    "sap_b1": _sap_b1,
}


def build_job(config: SourcesConfig, entity: str, source: str, *, start: date | None = None,
              end: date | None = None, reread_statements: bool = False) -> SourceJob:
    settings = config.settings(entity, source)
    name = f"lettrage_{source}_{entity.lower()}"
    if source in FILE_BUILDERS:
        from connectors._files import FileLoadStats

        stats = FileLoadStats()
        return SourceJob(entity, source, name,
                         FILE_BUILDERS[source](entity, settings, config.root, stats, reread_statements), stats)
    # A backfill shares the pipeline (and so the state) of the nightly sync: a bounded
    # incremental window (end_value) does not move the nightly cursor in dlt.
    return SourceJob(entity, source, name, BUILDERS[source](entity, settings, config.root, start, end))
