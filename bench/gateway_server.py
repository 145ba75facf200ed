"""Serve a gateway from a working directory and write the bound port to a file: the benchmark's
server process.

    gateway_server.py WORK PORT_FILE [PROFILE_OUT]

With ``PROFILE_OUT`` the process runs ``bench/stage_profile.py``'s sampler: SIGUSR1 starts a
window, SIGUSR2 writes the window's CPU by stage to ``PROFILE_OUT`` as JSON."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.app import Gateway
from gateway.config import load_config
from gateway.logging import configure
from gateway.server import serve


def main() -> None:
    work, port_file = Path(sys.argv[1]), Path(sys.argv[2])
    if len(sys.argv) > 3:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import stage_profile

        stage_profile.install(Path(sys.argv[3]))
    configure("WARNING")
    app = Gateway.open(load_config(work, listen="127.0.0.1:0"))
    asyncio.run(serve(app, on_ready=lambda port: port_file.write_text(str(port))))


if __name__ == "__main__":
    main()
