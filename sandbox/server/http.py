"""Small response helpers shared by the Stripe and GoCardless emulations."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, headers=headers, media_type="application/json")


class ConnectionDropped(Exception):
    """Raised on purpose after half a response body: the server then cuts the connection."""


class DroppedResponse(Response):
    """Announces a body, sends half of it, then aborts — what a flaky proxy or a server crash looks like."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b'{"object":"list","data":[' + b'{"id":"x"},' * 200
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body) * 2).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        raise ConnectionDropped("sandbox fault: connection dropped mid-response")


class _HideDrops(logging.Filter):
    """Keep uvicorn from printing a traceback for every connection we drop on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped) and "ConnectionDropped" not in record.getMessage()


def install_drop_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDrops) for f in logger.filters):
        logger.addFilter(_HideDrops())


def parse_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[invoice]=X&line_items[0][price]=p``) to nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_listify(node[k]) for k in sorted(node, key=int)]
        return {k: _listify(v) for k, v in node.items()}
    return node


def params_hash(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def to_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    return int(value)
