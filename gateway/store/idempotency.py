"""Idempotency responses kept at rest: sealed with the store's AES-GCM cipher, never plain.

A mutating call's response is kept so that a retry with the same request id gets the same
answer, and responses carry personal data (a consent names its grantor, a referral its case).
Each one is sealed (``gateway.privacy.crypto``) with the row's key — organisation, request id and
method — as associated data, so a blob copied to another row does not open.

Stores written before responses were sealed hold plain protobuf bytes. A sealed blob starts with
its format version (0x01); a serialised protobuf message never does (0x01 would be field number
0, which protobuf does not allow), so ``seal_plain_rows`` can find and seal those rows at start.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.privacy.crypto import BLOB_VERSION, FieldCipher
from gateway.store.db import Store
from gateway.store.models import IdempotentRequest


def response_aad(org: str, request_id: str, method: str) -> bytes:
    return "\x00".join(("idempotent_requests", org, request_id, method)).encode("utf-8")


def seal(cipher: FieldCipher, row_key: tuple[str, str, str], response: bytes) -> bytes:
    return cipher.encrypt(response, response_aad(*row_key))


def open_sealed(cipher: FieldCipher, row: IdempotentRequest) -> bytes:
    """The response bytes of ``row``; raises DecryptionError if the blob was altered or moved."""
    return cipher.decrypt(row.response, response_aad(row.org, row.request_id, row.method))


def _is_sealed(blob: bytes) -> bool:
    return bool(blob) and blob[0] == BLOB_VERSION


def seal_plain_rows(store: Store, cipher: FieldCipher, *, batch: int = 500) -> int:
    """Seal every response still stored plain (written before sealing existed); returns how
    many were sealed. Idempotent, and cheap once done: sealed rows are only read."""
    sealed = 0
    with store.write() as session:
        rows = session.execute(
            select(
                IdempotentRequest.org,
                IdempotentRequest.request_id,
                IdempotentRequest.method,
                IdempotentRequest.response,
            ).execution_options(yield_per=batch)
        ).all()
        for org, request_id, method, response in rows:
            if _is_sealed(response):
                continue
            _reseal(session, cipher, (org, request_id, method), response)
            sealed += 1
    return sealed


def _reseal(
    session: Session, cipher: FieldCipher, row_key: tuple[str, str, str], plain: bytes
) -> None:
    org, request_id, _method = row_key
    session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.org == org, IdempotentRequest.request_id == request_id)
        .values(response=seal(cipher, row_key, plain))
    )
