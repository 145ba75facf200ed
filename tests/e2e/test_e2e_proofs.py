"""GetInclusionProof and GetConsistencyProof through a real gateway (mTLS, policy, ledgered),
served from the stored nodes: for every index and every old size of the published checkpoint
they are the in-memory RFC 9162 proofs over the store's leaves, and verify against the root the
gateway signed."""

from __future__ import annotations

import base64
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from aidbridge.v1 import audit_pb2
from gateway.ledger.checkpoint import open_checkpoint
from gateway.ledger.rfc9162 import (
    consistency_proof,
    inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from gateway.store.models import LedgerEntry
from gateway.workdir import init_workdir
from tests.conftest import fresh_postgres_url, start_gateway
from tests.e2e.flow import CHARITY_A, COMPLIANCE, GOV, adults, pull, refer


@pytest.fixture(params=["sqlite", "postgresql"])
def gw(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    db_url = "" if request.param == "sqlite" else fresh_postgres_url()
    config = init_workdir(tmp_path / "work", db_url=db_url)
    with contextmanager(start_gateway)(config) as running:
        yield running


def _hashes(items: object) -> list[bytes]:
    return [base64.b64decode(h) for h in items]  # type: ignore[attr-defined]


def test_proofs_through_the_server_are_the_reference_proofs_and_verify(gw) -> None:  # type: ignore[no-untyped-def]
    gov, charity = gw.client(GOV), gw.client(CHARITY_A)
    for n, person in enumerate(adults(3, seed=33)):
        referral = refer(gov, person, tag=f"pr{n}")
        pull(charity, referral.referral_id)
    gw.app.ledger.drain()
    audit = gw.client(COMPLIANCE, "au-001").audit
    published = audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
    checkpoint = open_checkpoint(published.note, gw.app.vkey)
    size = checkpoint.size
    assert size == published.tree_size >= 10
    with gw.app.store.read() as s:
        leaves = list(
            s.scalars(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx.is_not(None), LedgerEntry.idx < size)
                .order_by(LedgerEntry.idx)
            )
        )
    assert len(leaves) == size

    for index in range(size):
        answer = audit.GetInclusionProof(
            audit_pb2.GetInclusionProofRequest(index=index, tree_size=size)
        )
        proof = _hashes(answer.hashes)
        assert proof == inclusion_proof(leaves, index, size)
        verify_inclusion(leaves[index], index, size, proof, checkpoint.root)
    for old in range(1, size + 1):
        answer_c = audit.GetConsistencyProof(
            audit_pb2.GetConsistencyProofRequest(from_size=old, to_size=size)
        )
        proof = _hashes(answer_c.hashes)
        assert proof == consistency_proof(leaves, old, size)
        verify_consistency(old, size, proof, root_from_leaf_hashes(leaves[:old]), checkpoint.root)

    # Beyond the signed tree: a clear INVALID_ARGUMENT, as before.
    with pytest.raises(grpc.RpcError) as refused:
        audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(index=size, tree_size=size))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"expected a leaf index in [0, {size}), found {size}" in refused.value.details()
