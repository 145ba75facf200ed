"""A small world for consent tests: a migrated store, real keys, cipher and catalogue, synthetic
cases (Faker zh_CN, never real people) and a valid draft to vary one field at a time."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from faker import Faker
from sqlalchemy.orm import Session

from gateway.clock import NS_PER_DAY, from_datetime
from gateway.consent import repository
from gateway.consent.model import ConsentDraft, ConsentRecord, Evidence, Grantor, Notice
from gateway.keys import KeyRing
from gateway.policy.catalogue import Catalogue
from gateway.privacy.crypto import FieldCipher
from gateway.privacy.pseudonyms import pseudonym_for
from gateway.store import Store
from gateway.store.models import Case, Referral, ReferralEvent

POLICIES = Path(__file__).resolve().parents[2] / "policies"
CHINA = timezone(timedelta(hours=8))
GOV = "jb-civil-affairs"
SUNSHINE = "charity-sunshine"
HARBOUR = "charity-harbour"
CASEWORKER = "caseworker-007"

fake = Faker("zh_CN")
Faker.seed(20250601)


def china_ns(year: int, month: int, day: int, hour: int = 0) -> int:
    return from_datetime(datetime(year, month, day, hour, tzinfo=CHINA))


NOW = china_ns(2025, 6, 1, 10)
ADULT_BIRTH = date(1980, 5, 5)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def valid_draft(case_id: str, **changes: Any) -> ConsentDraft:
    """A draft every rule accepts for an adult with capacity, recorded at NOW."""
    draft = ConsentDraft(
        case_id=case_id,
        grantor=Grantor(kind="subject", name=fake.name()),
        recipient_org=SUNSHINE,
        purpose="charitable_assistance",
        categories=("demographics", "hardship", "health"),
        fields=("birth_date", "sex", "street", "hardship_types", "health_condition"),
        access_mode="view",
        valid_from_ns=NOW,
        valid_until_ns=NOW + 365 * NS_PER_DAY,
        retention_days=180,
        notice=Notice(version="notice-2025-01", sha256=sha256_hex("告知书 2025-01")),
        evidence=Evidence(form_sha256=sha256_hex("签字同意书扫描件"), witness=fake.name()),
    )
    return replace(draft, **changes)


def guardian(**changes: Any) -> Grantor:
    return replace(
        Grantor(
            kind="guardian", name=fake.name(), relationship="母亲", verification_method="户口簿"
        ),
        **changes,
    )


@dataclass
class World:
    store: Store
    keys: KeyRing
    cipher: FieldCipher
    catalogue: Catalogue

    def pseudonym(self, recipient: str, case_id: str) -> str:
        return pseudonym_for(self.keys, recipient, case_id)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.store.write() as session:
            yield session

    def add_case(self, birth_date: date = ADULT_BIRTH, lacks_capacity: bool = False) -> str:
        case_id = "case-" + uuid.uuid4().hex[:16]
        payload = {"name": fake.name(), "resident_id": fake.ssn(), "phone": fake.phone_number()}
        with self.write() as session:
            session.add(
                Case(
                    case_id=case_id,
                    office_id=GOV,
                    subject_index="idx-" + uuid.uuid4().hex,
                    street="观音桥街道",
                    birth_date=birth_date.isoformat(),
                    lacks_capacity=lacks_capacity,
                    payload_enc=self.cipher.encrypt(
                        json.dumps(payload, ensure_ascii=False).encode(), case_id.encode()
                    ),
                    key_id=self.cipher.key_id,
                    created_at_ns=NOW,
                )
            )
        return case_id

    def record(self, draft: ConsentDraft, now_ns: int = NOW) -> ConsentRecord:
        with self.write() as session:
            return repository.record_consent(
                session,
                draft,
                org=GOV,
                actor=CASEWORKER,
                keys=self.keys,
                cipher=self.cipher,
                catalogue=self.catalogue,
                now_ns=now_ns,
            )

    def effective(self, consent_id: str, now_ns: int) -> ConsentRecord:
        with self.store.read() as session:
            return repository.effective_consent(session, consent_id, now_ns)

    def withdraw(self, consent_id: str, now_ns: int, reason: str = "本人要求撤回") -> Any:
        with self.write() as session:
            return repository.withdraw(
                session,
                consent_id,
                org=GOV,
                actor=CASEWORKER,
                reason=reason,
                now_ns=now_ns,
                pseudonym_for=self.pseudonym,
                cipher=self.cipher,
            )

    def release(self, consent_id: str, org: str, now_ns: int = NOW) -> bool:
        with self.write() as session:
            return repository.record_release(session, consent_id, org, now_ns)

    def add_referral(self, record: ConsentRecord, state: str) -> str:
        referral_id = "ref-" + uuid.uuid4().hex[:20]
        with self.write() as session:
            session.add(
                Referral(
                    referral_id=referral_id,
                    case_id=record.case_id,
                    from_org=GOV,
                    to_org=record.recipient_org,
                    consent_id=record.consent_id,
                    purpose=record.purpose,
                    state=state,
                    fast_track=False,
                    note_enc=None,
                    key_id=self.cipher.key_id,
                    created_at_ns=NOW,
                    updated_at_ns=NOW,
                    respond_by_ns=NOW + 7 * NS_PER_DAY,
                )
            )
            session.add(
                ReferralEvent(
                    referral_id=referral_id, state=state, at_ns=NOW, org=GOV, actor=CASEWORKER
                )
            )
        return referral_id


def open_world(db_url: str, keys: KeyRing) -> World:
    store = Store(db_url)
    store.migrate()
    return World(
        store=store,
        keys=keys,
        cipher=FieldCipher.from_keyring(keys),
        catalogue=Catalogue.load(POLICIES),
    )
