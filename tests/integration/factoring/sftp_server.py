"""A real SFTP server on loopback for the factoring tests (asyncssh, temp host key and user).

Runs in a thread with its own event loop; files land under ``root`` (chrooted),
so tests read exactly what the factor would find.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh


@dataclass
class LoopbackSftp:
    host: str
    port: int
    username: str
    root: Path
    client_key: Path
    known_hosts: Path
    _loop: asyncio.AbstractEventLoop
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        async def _close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def files(self, sub: str = "") -> dict[str, bytes]:
        base = self.root / sub.strip("/")
        return {p.name: p.read_bytes() for p in sorted(base.iterdir()) if p.is_file()} if base.exists() else {}


def start_sftp(tmp: Path, username: str = "factor") -> LoopbackSftp:
    root = tmp / "sftp_root"
    root.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = tmp / "client_key"
    client_key.write_private_key(str(key_path))
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="loopback-sftp")
    thread.start()

    async def _listen() -> Any:
        return await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized,
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
            allow_scp=False, login_timeout=10,
        )

    server = asyncio.run_coroutine_threadsafe(_listen(), loop).result(timeout=10)
    port = server.sockets[0].getsockname()[1]
    known_hosts = tmp / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    return LoopbackSftp("127.0.0.1", port, username, root, key_path, known_hosts, loop, server, thread)
