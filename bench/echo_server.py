"""A bare gRPC echo server: grpc.aio, the same mutual TLS as the gateway, answers every request
with a fixed payload of a given size. The baseline the gateway is measured against."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc


async def main(certs: Path, response_size: int) -> None:
    payload = b"x" * response_size

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return payload

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    credentials = grpc.ssl_server_credentials(
        [((certs / "server.key").read_bytes(), (certs / "server.pem").read_bytes())],
        root_certificates=(certs / "ca.pem").read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
