"""The leak scan (issue 9, "Proof"): 10,000 synthetic people whose case narratives and referral
notes write their identifiers the way caseworkers and adversaries write them — resident ids in
groups, in full-width digits, in Chinese numerals (幺 and 两 included), mixed, with zero-width
characters or split at random; phones and Luhn-valid bank cards the same way; the street part of
the address after the community; e-mail addresses with (at) and 点; WeChat ids — with consents
of varied scope for two charities. Both charities then take everything they may through the
real gateway over mutual TLS: the summary stream, single pulls, the referral list and each
referral in detail, state changes with reasons, help records, the event feed, reverse referrals
and the office's outcome notes on them, and the refusals of what they may not have.

Every byte they receive — responses and error messages — is normalised (NFKC, every numeral a
digit, lower case, separators and zero-width characters removed) and searched for every
person's resident id, phone, bank card, e-mail, WeChat id, full name, relatives' names and
street address: none may occur. The same person's pseudonym differs between the charities.

The cases are seeded into the store directly (creating 10,000 through the API would take longer
than the scan); a few dozen go through the API too, and every charity read goes through the
server. ``AIDBRIDGE_LEAK_CASES`` sets a smaller number for a quick local run.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from aidbridge.v1 import cases_pb2, common_pb2, consents_pb2, referrals_pb2
from gateway import cases, errors
from gateway.cases import age_on
from gateway.clock import NS_PER_DAY, to_date
from gateway.consent import repository as consent_store
from gateway.consent.model import RECORDED
from gateway.consent.validate import validate_draft
from gateway.privacy.scrub.normalise import SEPARATORS, canonical
from gateway.referrals import repository as referral_store
from gateway.referrals import validate as referral_validate
from gateway.services import convert
from gateway.services.consents import draft_from_message
from gateway.services.convert import timestamp
from gateway.store.models import ConsentEvent
from gateway.synthetic import NUMBER_FORMS, synthetic_cases, written_note
from tests.conftest import start_gateway
from tests.e2e.flow import CHARITY_A, CHARITY_B, GOV, PURPOSE, STREET_OFFICE, consent_message
from tests.privacy.pieces import pieces_joined

CASES = int(os.environ.get("AIDBRIDGE_LEAK_CASES", "10000"))
THROUGH_API = 24
CHARITIES = (CHARITY_A, CHARITY_B)
# Fields a consent may cover for a summary, each drawn in or out per consent; never contact.
SCOPES = (
    "birth_date",
    "sex",
    "street",
    "community",
    "household_size",
    "hardship_types",
    "special_groups",
    "severity",
    "needs",
    "narrative",
    "monthly_income",
    "health_condition",
    "disability",
    "assistance_status",
)
ALWAYS = ("birth_date", "sex", "street", "hardship_types", "severity")


@dataclass
class Person:
    case: cases_pb2.Case
    case_id: str = ""
    # Identifiers, each in its canonical form: what the scan looks for.
    numbers: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    # WeChat ids that are mostly "_" and "-" ("t_-3-y"): without their separators they are a
    # few letters that random tokens (hashes, pseudonyms) hold by chance, so the scan looks
    # for these as written.
    written: list[str] = field(default_factory=list)
    referrals: dict[str, str] = field(default_factory=dict)  # charity -> referral id


SHORTEST_COMPACT_ID = 6


def compact(text: str) -> str:
    """``text`` as the scan compares it: NFKC, numerals as digits, lower case, no separators."""
    return "".join(c for c in canonical(text) if c not in SEPARATORS)


def identifiers(person: Person, *notes: Any) -> None:
    p = person.case.person
    person.numbers += [compact(p.resident_id), compact(p.phone)]
    street_part = p.address.split(p.community, 1)[-1] if p.community in p.address else p.address
    person.texts += [compact(p.name), compact(street_part), compact(p.address)]
    person.texts += [compact(r.name) for r in person.case.relatives]
    for note in notes:
        person.numbers.append(compact(note.bank_card))
        person.texts.append(compact(note.email))
        if len(compact(note.wechat)) >= SHORTEST_COMPACT_ID:
            person.texts.append(compact(note.wechat))
        else:
            person.written.append(canonical(note.wechat).lower())


def scope(rng: random.Random) -> list[str]:
    return sorted(set(ALWAYS) | {f for f in SCOPES if rng.random() < 0.6})


def categories_of(app: Any, fields: Iterable[str], minor: bool) -> list[str]:
    found = {app.catalogue.category_of(f) for f in fields}
    return sorted(found | ({"minors_data"} if minor else set()))


def consent_for(app: Any, person: Person, recipient: str, rng: random.Random, now_ns: int) -> Any:
    case = person.case
    minor = age_on(case.person.birth_date, to_date(now_ns)) < 18
    fields = scope(rng)
    message = consent_message(
        person.case_id,
        recipient=recipient,
        fields=fields,
        categories=categories_of(app, fields, minor),
        now_ns=now_ns,
        name=case.person.name,
    )
    if age_on(case.person.birth_date, to_date(now_ns)) < 14 or case.lacks_capacity:
        guardian = case.relatives[0] if case.relatives else None
        message.grantor.CopyFrom(
            consents_pb2.Grantor(
                kind=consents_pb2.GRANTOR_KIND_GUARDIAN,
                name=guardian.name if guardian else "监护人",
                relationship=guardian.relationship if guardian else "监护人",
                verification_method="户口簿",
            )
        )
    return message


def seed_consent(
    session: Any, app: Any, draft: Any, *, birth_date: str, lacks_capacity: bool, now_ns: int
) -> Any:
    """What ``consent_store.record_consent`` stores for a new consent — validated, signed and
    sealed by ``signed_consent``, its "recorded" event — without its look-ups of earlier consents
    (a seeded case has none), so that the rows of many cases go to the database in a few
    batched inserts."""
    validate_draft(
        draft,
        subject_birth_date=date.fromisoformat(birth_date),
        lacks_capacity=lacks_capacity,
        catalogue=app.catalogue,
        now_ns=now_ns,
    )
    record, row = consent_store.signed_consent(
        draft, version=1, org=GOV, actor="cw-001", keys=app.keys, cipher=app.cipher, now_ns=now_ns
    )
    consent_id = record.consent_id
    session.add(row)
    session.add(
        ConsentEvent(
            consent_id=consent_id, event=RECORDED, at_ns=now_ns, org=GOV, actor="cw-001", reason=""
        )
    )
    return record


def seed(app: Any, people: list[Person], rng: random.Random) -> None:
    """Cases, consents and referrals written straight into the store, as the services would."""
    now = app.clock.now_ns()
    # Small transactions: the gateway's sequencer shares the database while this runs.
    for start in range(0, len(people), 100):
        with app.store.write() as session:
            for i, person in enumerate(people[start : start + 100], start):
                form = NUMBER_FORMS[i % len(NUMBER_FORMS)]
                narrative = written_note(person.case, rng, form=form)
                person.case.narrative = narrative.text
                record = cases.validate_record(
                    convert.case_to_record(person.case), streets=app.catalogue.streets
                )
                person.case_id = cases.new_case_id()
                row = cases.store_case(
                    session,
                    record,
                    case_id=person.case_id,
                    office_id=GOV,
                    subject_index=app.subject_index(record["resident_id"]),
                    cipher=app.cipher,
                    now_ns=now,
                )
                draw = rng.random()
                recipients = (
                    (CHARITY_A,) if draw < 0.4 else (CHARITY_B,) if draw < 0.7 else CHARITIES
                )
                notes = [narrative]
                for recipient in recipients:
                    try:
                        consent = seed_consent(
                            session,
                            app,
                            draft_from_message(
                                consent_for(app, person, recipient, rng, now - 120 * 10**9)
                            ),
                            birth_date=record["birth_date"],
                            lacks_capacity=bool(record.get("lacks_capacity")),
                            now_ns=now,
                        )
                    except errors.AidBridgeError:
                        continue  # a consent this person cannot give (the scan needs many, not all)
                    note = written_note(person.case, rng, form=rng.choice(NUMBER_FORMS))
                    notes.append(note)
                    referral = referral_store.create_referral(
                        session,
                        case=row,
                        from_org=GOV,
                        to_org=recipient,
                        consent_id=consent.consent_id,
                        purpose=PURPOSE,
                        note=note.text,
                        referral_for=referral_validate.referral_for(
                            record, hardship_type="", special_group="", severity=""
                        ),
                        respond_by_ns=now + 30 * NS_PER_DAY,
                        actor="cw-001",
                        cipher=app.cipher,
                        now_ns=now,
                    )
                    person.referrals[recipient] = referral.referral_id
                identifiers(person, *notes)


def through_api(gateway: Any, people: list[Person], rng: random.Random) -> None:
    """A few people registered, consented and referred through the API, as an office does."""
    gov = gateway.client(GOV)
    for i, person in enumerate(people):
        note = written_note(person.case, rng, form=NUMBER_FORMS[i % len(NUMBER_FORMS)])
        person.case.narrative = note.text
        person.case_id = gov.cases.RegisterCase(
            cases_pb2.RegisterCaseRequest(request_id=f"api-case-{i}", case=person.case)
        ).case_id
        notes = [note]
        recipient = CHARITIES[i % 2]
        consent = gov.consents.RecordConsent(
            consents_pb2.RecordConsentRequest(
                request_id=f"api-consent-{i}",
                consent=consent_for(
                    gateway.app, person, recipient, rng, gateway.app.clock.now_ns() - 60 * 10**9
                ),
            )
        ).consent
        referral_note = written_note(person.case, rng, form=rng.choice(NUMBER_FORMS))
        notes.append(referral_note)
        person.referrals[recipient] = gov.referrals.CreateReferral(
            referrals_pb2.CreateReferralRequest(
                request_id=f"api-referral-{i}",
                case_id=person.case_id,
                to_org=recipient,
                consent_id=consent.consent_id,
                purpose=PURPOSE,
                note=referral_note.text,
            )
        ).referral.referral_id
        identifiers(person, *notes)


class Received:
    """Everything one charity received, as bytes, and the refusals' messages."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.refusals = 0
        self.calls = 0

    def take(self, message: Message) -> Message:
        self.calls += 1
        self.chunks.append(message.SerializeToString())
        return message

    def call(self, method: Callable[[Any], Any], request: Any) -> Any:
        try:
            return self.take(method(request))
        except grpc.RpcError as error:
            self.calls += 1
            self.refusals += 1
            self.chunks.append(f"{error.code().name}: {error.details()}".encode())
            return None

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)


def take_everything(
    gateway: Any, org: str, people: list[Person], other: dict[str, str], rng: random.Random
) -> tuple[Received, dict[str, str], int]:
    """All a charity may take (and some it may not); returns what it received, the subject
    pseudonym it saw for each of its referrals and the number of summaries streamed."""
    client = gateway.client(org, actor="staff-017")
    got = Received()
    subjects: dict[str, str] = {}
    streamed = 0
    # A deadline for the whole stream, not the client's 30 s for one call.
    for summary in client.cases.StreamCaseSummaries(
        cases_pb2.StreamCaseSummariesRequest(purpose=PURPOSE), timeout=900
    ):
        got.take(summary)
        streamed += 1
        subjects[summary.referral_id] = summary.subject
    token = ""
    while True:
        page = got.call(
            client.referrals.ListReferrals,
            referrals_pb2.ListReferralsRequest(
                page=common_pb2.PageRequest(page_size=500, page_token=token)
            ),
        )
        for referral in page.referrals:
            subjects.setdefault(referral.referral_id, referral.subject)
            assert referral.subject == subjects[referral.referral_id]
            assert not referral.case_id
        token = page.next_page_token
        if not token:
            break
    mine = [p for p in people if org in p.referrals]
    sample = rng.sample(mine, min(60, len(mine)))
    for n, person in enumerate(sample):
        referral_id = person.referrals[org]
        got.call(
            client.cases.PullCaseSummary,
            cases_pb2.PullCaseSummaryRequest(referral_id=referral_id, purpose=PURPOSE),
        )
        adversary = written_note(person.case, rng, min_length=60).text
        if n % 4 == 3:
            got.call(
                client.referrals.UpdateReferralState,
                referrals_pb2.UpdateReferralStateRequest(
                    request_id=f"{org}-reject-{n}",
                    referral_id=referral_id,
                    state=referrals_pb2.REFERRAL_STATE_REJECTED,
                    rejection_reason=referrals_pb2.REJECTION_REASON_NOT_ELIGIBLE,
                    reason=adversary[:400],
                ),
            )
        else:
            got.call(
                client.referrals.UpdateReferralState,
                referrals_pb2.UpdateReferralStateRequest(
                    request_id=f"{org}-accept-{n}",
                    referral_id=referral_id,
                    state=referrals_pb2.REFERRAL_STATE_ACCEPTED,
                    reason=adversary[:400],
                ),
            )
            got.call(
                client.referrals.RecordHelp,
                referrals_pb2.RecordHelpRequest(
                    request_id=f"{org}-help-{n}",
                    help=referrals_pb2.HelpDelivered(
                        referral_id=referral_id,
                        kind=common_pb2.HELP_KIND_MATERIAL,
                        value_fen=20_000,
                        delivered_at=timestamp(gateway.app.clock.now_ns()),
                        description=written_note(person.case, rng, min_length=60).text[:400],
                    ),
                ),
            )
            # No consent here covers contact: refused, and the refusal is scanned too.
            got.call(
                client.cases.GetContactDetails,
                cases_pb2.GetContactDetailsRequest(referral_id=referral_id, purpose=PURPOSE),
            )
        got.call(
            client.referrals.GetReferral, referrals_pb2.GetReferralRequest(referral_id=referral_id)
        )
    # What it may not have: the other charity's referrals, and a referral named by an id.
    for referral_id in list(other.values())[:20]:
        got.call(
            client.cases.PullCaseSummary,
            cases_pb2.PullCaseSummaryRequest(referral_id=referral_id, purpose=PURPOSE),
        )
        got.call(
            client.referrals.GetReferral, referrals_pb2.GetReferralRequest(referral_id=referral_id)
        )
    for person in sample[:10]:
        got.call(
            client.referrals.GetReferral,
            referrals_pb2.GetReferralRequest(referral_id=person.case.person.resident_id),
        )
    after = 0
    while True:
        feed = got.call(
            client.referrals.ListReferralEvents,
            referrals_pb2.ListReferralEventsRequest(after_event_id=after, page_size=500),
        )
        if not feed.events:
            break
        after = feed.last_event_id
    return got, subjects, streamed


def reverse_referrals(gateway: Any, org: str, people: list[Person], rng: random.Random) -> Received:
    """The charity refers people back to the office, with reasons that name them; the office
    answers with outcome notes that name them too; the charity reads both back."""
    client, office = gateway.client(org, actor="staff-017"), gateway.client(STREET_OFFICE)
    got = Received()
    now = gateway.app.clock.now_ns()
    for n, person in enumerate(p for p in people if p.case.person.street == "观音桥街道"):
        if n == 6:
            break
        p = person.case.person
        created = got.call(
            client.referrals.CreateReverseReferral,
            referrals_pb2.CreateReverseReferralRequest(
                request_id=f"{org}-rev-{n}",
                referral=referrals_pb2.ReverseReferral(
                    to_office=STREET_OFFICE,
                    subject_name=p.name,
                    subject_resident_id=p.resident_id,
                    subject_phone=p.phone,
                    street=p.street,
                    reason=written_note(person.case, rng, min_length=60).text[:400],
                    suspected_aid=common_pb2.HARDSHIP_TYPE_MINIMUM_LIVING,
                    consent=referrals_pb2.ReverseReferralConsent(
                        grantor=consents_pb2.Grantor(
                            kind=consents_pb2.GRANTOR_KIND_SUBJECT, name=p.name
                        ),
                        notice=consents_pb2.Notice(
                            version="rr-v1", sha256=hashlib.sha256(b"n").hexdigest()
                        ),
                        evidence=consents_pb2.Evidence(
                            form_sha256=hashlib.sha256(b"form").hexdigest(), witness="社工"
                        ),
                        recipient_office=STREET_OFFICE,
                        purpose="social_assistance_assessment",
                        valid_from=timestamp(now - 60 * 10**9),
                        valid_until=timestamp(now + 90 * NS_PER_DAY),
                    ),
                ),
            ),
        )
        if created is None:
            continue
        office.referrals.ReportReverseOutcome(
            referrals_pb2.ReportReverseOutcomeRequest(
                request_id=f"{org}-rev-received-{n}",
                reverse_referral_id=created.reverse_referral_id,
                state="received",
                outcome_note=f"已收到，{p.name}，电话{p.phone}，身份证{p.resident_id}",
            )
        )
    got.call(client.referrals.ListReverseReferrals, referrals_pb2.ListReverseReferralsRequest())
    return got


# The gateway's own random tokens (pseudonyms, ids): taken out before the scan, so that a short
# WeChat id cannot be "found" by chance among their random letters.
_GATEWAY_TOKEN = re.compile(
    r"k[0-9]{1,3}\.[a-z2-7]{20,64}|(?:case|ref|rev|proj|help|c)-[0-9a-f]{16,32}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def leaks(received: Iterable[Received], people: list[Person]) -> list[tuple[int, str]]:
    """(person index, identifier) for every identifier found in what was received."""
    text = "\n".join(
        compact(_GATEWAY_TOKEN.sub("|", chunk.decode("utf-8", errors="replace")))
        for got in received
        for chunk in got.chunks
    )
    numbers: dict[str, int] = {}
    lengths: set[int] = set()
    words: dict[str, int] = {}
    for index, person in enumerate(people):
        for number in person.numbers:
            numbers[number] = index
            lengths.add(len(number))
        for word in person.texts:
            if len(word) >= 2:
                words[word] = index
    found: list[tuple[int, str]] = []
    # Numbers: every window of an identifier's length in every run of digits, and in the
    # digits of a number's pieces put together over the words between them.
    runs = [run.group(0) for run in re.finditer(r"[0-9x]{11,}", text)]
    for digits in [*runs, *pieces_joined(text)]:
        for length in lengths:
            for at in range(len(digits) - length + 1):
                if digits[at : at + length] in numbers:
                    found.append((numbers[digits[at : at + length]], digits[at : at + length]))
    # Names and addresses: every window of their lengths where one could start (a character
    # some of them starts with); e-mail and WeChat ids: every window inside a run of the
    # characters they are written in.
    by_first: dict[str, set[int]] = defaultdict(set)
    ascii_lengths: set[int] = set()
    for word in words:
        if word[0].isascii():
            ascii_lengths.add(len(word))
        else:
            by_first[word[0]].add(len(word))
    starts = re.compile("[" + re.escape("".join(sorted(by_first))) + "]")
    for start in starts.finditer(text):
        at = start.start()
        for length in by_first[text[at]]:
            window = text[at : at + length]
            if window in words:
                found.append((words[window], window))
    for run in re.finditer(r"[a-z0-9_@.\-]{5,}", text):
        token = run.group(0)
        for length in ascii_lengths:
            for at in range(len(token) - length + 1):
                if token[at : at + length] in words:
                    found.append((words[token[at : at + length]], token[at : at + length]))
    written = "\n".join(
        canonical(chunk.decode("utf-8", errors="replace")).lower()
        for got in received
        for chunk in got.chunks
    )
    for index, person in enumerate(people):
        found += [(index, word) for word in person.written if word in written]
    return found


@pytest.fixture
def scan_gateway(work: Any) -> Iterator[Any]:
    # A wider bound on the store than the default 5 s: a page of the stream writes 500 ledger
    # entries, and on a machine shared with other work that can take longer (never a result).
    yield from start_gateway(replace(work, store_timeout_s=120.0))


def test_no_identifier_of_anyone_reaches_either_charity(scan_gateway: Any) -> None:
    gateway = scan_gateway  # type: ignore[no-untyped-def]
    rng = random.Random(9)
    started = time.perf_counter()
    people = [Person(case) for case in synthetic_cases(CASES + THROUGH_API, seed=2609)]
    seed(gateway.app, people[THROUGH_API:], rng)
    through_api(gateway, people[:THROUGH_API], rng)
    seeded = time.perf_counter()

    received: list[Received] = []
    seen: dict[str, dict[str, str]] = {}
    streamed: dict[str, int] = {}
    for org, other in ((CHARITY_A, CHARITY_B), (CHARITY_B, CHARITY_A)):
        others = {p.case_id: p.referrals[other] for p in people if other in p.referrals}
        got, seen[org], streamed[org] = take_everything(gateway, org, people, others, rng)
        received += [got, reverse_referrals(gateway, org, people, rng)]
    scanned_at = time.perf_counter()
    found = leaks(received, people)
    done = time.perf_counter()

    size = sum(g.size for g in received)
    calls = sum(g.calls for g in received)
    print(
        f"\nleak scan: {len(people)} people, {calls} calls, "
        f"{sum(g.refusals for g in received)} refused, {size:,} bytes scanned; "
        f"seeding {seeded - started:.1f} s, charities' reads {scanned_at - seeded:.1f} s, "
        f"scan {done - scanned_at:.1f} s"
    )
    assert not found, [(people[i].case.person.name, identifier) for i, identifier in found[:20]]
    # The scan saw what it should: every referral listed, most streamed as summaries.
    for org in CHARITIES:
        referred = sum(1 for p in people if org in p.referrals)
        assert len(seen[org]) == referred, (org, len(seen[org]), referred)
        assert streamed[org] >= 0.5 * referred, (org, streamed[org], referred)
    assert size > CASES * 1000
    # The same person has unrelated pseudonyms at the two charities.
    both = [p for p in people if all(o in p.referrals for o in CHARITIES)]
    assert len(both) > CASES // 5
    for person in both:
        a = seen[CHARITY_A].get(person.referrals[CHARITY_A])
        b = seen[CHARITY_B].get(person.referrals[CHARITY_B])
        assert a and b and a != b


def test_the_scan_finds_an_identifier_written_in_any_form() -> None:
    """The scan itself: an id in Chinese numerals, a grouped phone, a name are all found."""
    case = synthetic_cases(1, seed=5)[0]
    person = Person(case)
    identifiers(person)
    p = case.person
    numerals = p.resident_id.translate(str.maketrans("0123456789", "〇幺二三四五六七八九"))
    for leaked in (
        numerals,
        f"{p.phone[:3]} {p.phone[3:7]}-{p.phone[7:]}",
        f"{p.phone[:3]}，中间{p.phone[3:7]}，后四位{p.phone[7:]}",
        f"你好{p.name}",
        p.address,
    ):
        got = Received()
        got.chunks.append(f"x{leaked}y".encode())
        assert leaks([got], [person]), leaked
    clean = Received()
    clean.chunks.append("[申请人]，住[地址]，电话[手机号]".encode())
    assert not leaks([clean], [person])


def test_the_scan_finds_a_short_wechat_id_as_written_and_not_by_chance_in_a_hash() -> None:
    """A WeChat id that is mostly separators ("t_-3-y") is looked for as written: found in a
    note, not "found" in a hash that happens to hold its three letters."""

    @dataclass
    class Note:
        bank_card: str = "6222020200112233445"
        email: str = "wang2024@qq.com"
        wechat: str = "t_-3-y"

    person = Person(synthetic_cases(1, seed=5)[0])
    identifiers(person, Note())
    assert person.written == ["t_-3-y"]
    cases = (("微信Ｔ_-3-y。", True), ("微信t3y。", False), ("sha256:9qt3yzx0a", False))
    for text, leaked in cases:
        got = Received()
        got.chunks.append(text.encode())
        assert bool(leaks([got], [person])) is leaked, text
