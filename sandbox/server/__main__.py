"""``python -m sandbox.server --root sample_data --port 12111``: serve a world until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from sandbox.server.runner import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.server", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="world directory (contains world.json)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS pick a free port")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(args.root, args.host, args.port) as sandbox:
        print(
            f"sandbox listening on {sandbox.url}  stripe: {sandbox.stripe_base}  "
            f"gocardless: {sandbox.gocardless_base}",
            flush=True,
        )
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
