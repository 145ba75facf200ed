"""Client side: an mTLS channel for one organisation's certificate, and stubs with the actor
metadata every call needs. Used by the demo, the CLI, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from aidbridge.v1 import (
    audit_pb2_grpc,
    cases_pb2_grpc,
    consents_pb2_grpc,
    integrity_pb2_grpc,
    referrals_pb2_grpc,
    reports_pb2_grpc,
    resources_pb2_grpc,
)

ACTOR_KEY = "x-aidbridge-actor"


def credentials(certs_dir: Path, org: str) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(certs_dir / "ca.pem").read_bytes(),
        private_key=(certs_dir / f"{org}.key").read_bytes(),
        certificate_chain=(certs_dir / f"{org}.pem").read_bytes(),
    )


def secure_channel(target: str, creds: grpc.ChannelCredentials) -> grpc.Channel:
    # The dev server certificate names localhost; connect by address, verify that name.
    return grpc.secure_channel(
        target, creds, options=[("grpc.ssl_target_name_override", "localhost")]
    )


@dataclass
class Client:
    """Stubs for one caller: ``Client.connect(target, certs_dir, org, actor)``."""

    channel: grpc.Channel
    actor: str

    @classmethod
    def connect(cls, target: str, certs_dir: Path, org: str, actor: str) -> Client:
        return cls(secure_channel(target, credentials(certs_dir, org)), actor)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((ACTOR_KEY, self.actor),)

    @property
    def cases(self) -> Any:
        return _WithMetadata(cases_pb2_grpc.CaseServiceStub(self.channel), self.metadata)

    @property
    def consents(self) -> Any:
        return _WithMetadata(consents_pb2_grpc.ConsentServiceStub(self.channel), self.metadata)

    @property
    def referrals(self) -> Any:
        return _WithMetadata(referrals_pb2_grpc.ReferralServiceStub(self.channel), self.metadata)

    @property
    def resources(self) -> Any:
        return _WithMetadata(resources_pb2_grpc.ResourceServiceStub(self.channel), self.metadata)

    @property
    def audit(self) -> Any:
        return _WithMetadata(audit_pb2_grpc.AuditServiceStub(self.channel), self.metadata)

    @property
    def reports(self) -> Any:
        return _WithMetadata(reports_pb2_grpc.ReportServiceStub(self.channel), self.metadata)

    @property
    def integrity(self) -> Any:
        return _WithMetadata(integrity_pb2_grpc.IntegrityServiceStub(self.channel), self.metadata)

    def close(self) -> None:
        self.channel.close()


class _WithMetadata:
    """A stub whose calls carry the actor metadata unless the caller passes its own."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        def call(request: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("metadata", self._metadata)
            kwargs.setdefault("timeout", 30)
            return method(request, **kwargs)

        return call
