"""ResourceService: charities' projects and matching. Not built yet: every method answers
UNIMPLEMENTED (and is ledgered like any call)."""

from __future__ import annotations

from typing import Any

import grpc

from aidbridge.v1 import resources_pb2_grpc
from gateway.services.base import Servicer


class ResourceService(Servicer, resources_pb2_grpc.ResourceServiceServicer):
    async def PublishProject(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)

    async def ListProjects(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)

    async def MatchCharities(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)

    async def QueryCapacity(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.unimplemented(context, request)
