"""Dropping a bordereau on the factor's SFTP server, safely and at most once.

    connect ─▶ remote manifest already there?
                 ├─ same bytes: delivered by an earlier (crashed) run → nothing to do
                 ├─ other bytes: DeliveryConflict (a person must look; never overwrite)
                 └─ absent: upload each data file to a temp name, rename into place,
                            then the manifest the same way (last: the commit marker)

A temp name (``.<name>.part``) keeps the factor's robot from reading half a file;
data files left by a crash before the manifest are ours and get replaced.
Network trouble is :class:`DeliveryFailed` (transient, retried by the flow); a
refused login or a conflict is permanent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from actions.factoring.bordereau import BuiltFile
from lettrage.errors import ConfigurationError, PermanentSourceError, TransientSourceError
from mappings.factoring import HttpsDelivery, SftpDelivery

log = logging.getLogger("lettrage.factoring")


class DeliveryFailed(TransientSourceError):
    """The factor's server could not be reached or dropped the connection; retry later."""


class DeliveryRefused(PermanentSourceError):
    """The factor's server refused our credentials or the upload; fix the settings."""


class DeliveryConflict(PermanentSourceError):
    """A different manifest with our batch's name is already on the server; never overwritten."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: str            # uploaded | already_delivered
    remote_dir: str
    names: tuple[str, ...]


def _secret(env: str | None) -> str | None:
    return os.environ.get(env) if env else None


def _connect_kwargs(spec: SftpDelivery) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "host": spec.host, "port": spec.port, "username": spec.username,
        "connect_timeout": spec.timeout_seconds,
    }
    known_hosts = _secret(spec.known_hosts_env)
    if known_hosts:
        kwargs["known_hosts"] = known_hosts
    key = _secret(spec.private_key_env)
    password = _secret(spec.password_env)
    if key:
        kwargs["client_keys"] = [key]
    else:
        kwargs["client_keys"] = None
    if password:
        kwargs["password"] = password
    if not key and not password:
        raise ConfigurationError(
            f"SFTP delivery to {spec.host}: set {spec.private_key_env or spec.password_env or 'a key or password'} "
            "in the environment (no credentials found)")
    return kwargs


async def _read(sftp: object, path: str) -> bytes | None:
    import asyncssh

    try:
        async with sftp.open(path, "rb") as fh:  # type: ignore[attr-defined]
            return bytes(await fh.read())
    except asyncssh.SFTPNoSuchFile:
        return None


async def _makedirs(sftp: object, path: str) -> None:
    if path in ("", "/", "."):
        return
    await sftp.makedirs(path, exist_ok=True)  # type: ignore[attr-defined]


async def _put(sftp: object, spec: SftpDelivery, f: BuiltFile) -> None:
    import asyncssh

    final = posixpath.join(spec.remote_dir, f.name)
    temp = posixpath.join(spec.remote_dir, f"{spec.temp_prefix}{f.name}{spec.temp_suffix}")
    async with sftp.open(temp, "wb") as fh:  # type: ignore[attr-defined]
        await fh.write(f.content)
    attrs = await sftp.stat(temp)  # type: ignore[attr-defined]
    if attrs.size != len(f.content):
        raise DeliveryFailed(f"sftp://{spec.host}{temp}: wrote {attrs.size} bytes, expected {len(f.content)}")
    try:
        await sftp.posix_rename(temp, final)  # type: ignore[attr-defined]  # atomic replace (OpenSSH extension)
    except (asyncssh.SFTPOpUnsupported, asyncssh.SFTPFailure):
        if await sftp.exists(final):  # type: ignore[attr-defined]
            await sftp.remove(final)  # type: ignore[attr-defined]
        await sftp.rename(temp, final)  # type: ignore[attr-defined]


async def _deliver_sftp(spec: SftpDelivery, files: Sequence[BuiltFile], manifest: BuiltFile) -> DeliveryResult:
    import asyncssh

    names = tuple(f.name for f in files) + (manifest.name,)
    try:
        async with asyncssh.connect(**_connect_kwargs(spec)) as conn:  # type: ignore[arg-type]
            async with conn.start_sftp_client() as sftp:
                await _makedirs(sftp, spec.remote_dir)
                existing = await _read(sftp, posixpath.join(spec.remote_dir, manifest.name))
                if existing is not None:
                    if existing == manifest.content:
                        log.info("sftp://%s%s: manifest %s already there, nothing to send",
                                 spec.host, spec.remote_dir, manifest.name)
                        return DeliveryResult("already_delivered", spec.remote_dir, names)
                    raise DeliveryConflict(
                        f"sftp://{spec.host}{spec.remote_dir}/{manifest.name} exists with other content; "
                        "ask the factor which batch it holds before re-sending")
                for f in (*files, manifest):
                    await _put(sftp, spec, f)
                check = await _read(sftp, posixpath.join(spec.remote_dir, manifest.name))
                if check != manifest.content:
                    raise DeliveryFailed(f"sftp://{spec.host}{spec.remote_dir}/{manifest.name}: read-back differs")
    except (DeliveryConflict, DeliveryFailed, ConfigurationError):
        raise
    except asyncssh.PermissionDenied as exc:
        raise DeliveryRefused(f"sftp://{spec.username}@{spec.host}:{spec.port}: login refused ({exc})") from exc
    except asyncssh.SFTPPermissionDenied as exc:
        raise DeliveryRefused(f"sftp://{spec.host}{spec.remote_dir}: permission denied ({exc})") from exc
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        raise DeliveryFailed(f"sftp://{spec.host}:{spec.port}{spec.remote_dir}: {exc}") from exc
    log.info("sftp://%s%s: delivered %s", spec.host, spec.remote_dir, ", ".join(names))
    return DeliveryResult("uploaded", spec.remote_dir, names)


async def _fetch_sftp(spec: SftpDelivery, name: str) -> bytes | None:
    import asyncssh

    try:
        async with asyncssh.connect(**_connect_kwargs(spec)) as conn:  # type: ignore[arg-type]
            async with conn.start_sftp_client() as sftp:
                return await _read(sftp, posixpath.join(spec.remote_dir, name))
    except asyncssh.PermissionDenied as exc:
        raise DeliveryRefused(f"sftp://{spec.username}@{spec.host}:{spec.port}: login refused ({exc})") from exc
    except (TimeoutError, OSError, asyncssh.Error) as exc:
        raise DeliveryFailed(f"sftp://{spec.host}:{spec.port}{spec.remote_dir}: {exc}") from exc


def _https_headers(spec: HttpsDelivery) -> dict[str, str]:
    token = _secret(spec.token_env)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _deliver_https(spec: HttpsDelivery, files: Sequence[BuiltFile], manifest: BuiltFile) -> DeliveryResult:
    """Same protocol over HTTPS: GET the manifest, PUT data files, PUT the manifest last."""
    import httpx

    base = spec.url.rstrip("/")
    names = tuple(f.name for f in files) + (manifest.name,)
    try:
        with httpx.Client(timeout=spec.timeout_seconds, headers=_https_headers(spec)) as client:
            got = client.get(f"{base}/{manifest.name}")
            if got.status_code == 200:
                if got.content == manifest.content:
                    return DeliveryResult("already_delivered", base, names)
                raise DeliveryConflict(f"{base}/{manifest.name} exists with other content")
            for f in (*files, manifest):
                resp = client.put(f"{base}/{f.name}", content=f.content,
                                  headers={"X-Content-SHA256": f.sha256})
                if resp.status_code in (401, 403):
                    raise DeliveryRefused(f"PUT {base}/{f.name}: {resp.status_code}")
                if resp.status_code >= 400:
                    raise DeliveryFailed(f"PUT {base}/{f.name}: HTTP {resp.status_code}")
    except httpx.TransportError as exc:
        raise DeliveryFailed(f"{base}: {exc}") from exc
    return DeliveryResult("uploaded", base, names)


def deliver(spec: SftpDelivery | HttpsDelivery, files: Sequence[BuiltFile], manifest: BuiltFile) -> DeliveryResult:
    """Deliver a built batch (idempotent: a manifest already there with the same bytes is success)."""
    if isinstance(spec, SftpDelivery):
        return asyncio.run(_deliver_sftp(spec, files, manifest))
    return _deliver_https(spec, files, manifest)


def remote_manifest(spec: SftpDelivery | HttpsDelivery, name: str) -> bytes | None:
    """The manifest named ``name`` on the factor's server, or None."""
    if isinstance(spec, SftpDelivery):
        return asyncio.run(_fetch_sftp(spec, name))
    import httpx

    resp = httpx.get(f"{spec.url.rstrip('/')}/{name}", headers=_https_headers(spec), timeout=spec.timeout_seconds)
    return resp.content if resp.status_code == 200 else None
