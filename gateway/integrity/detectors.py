"""The integrity detectors that need history, so the gateway runs them rather than the policy
(a decision about one call is the policy's: ``policies/aidbridge/integrity.rego``). Each adds its
flag to the call that triggers it (``Facts.flag``), so the flag is in that call's ledger entry
and in ``ledger_flags``, with what only compliance is told beside it.

- ``volume-spike``: an actor's releases and referrals (``COUNTED``) in the last hour are well
  above its own history — at least ``volume_floor`` calls (so a new actor is not flagged at its
  third call) and more than ``volume_ratio`` times its mean per day over the last
  ``volume_history_days`` days before today (the days since its first call, if fewer). Counted in
  ``actor_call_counts`` (a short bucket and a day row per actor, written with the call), read by
  primary key: a handful of rows, never the ledger. The call that takes the count over the line
  is flagged, not every call after it; a count that falls back and crosses again is flagged
  again. Times are the gateway clock's (``call.now_ns``), days UTC.
- ``duplicate-help``: help recorded for a person whom another charity helped with the same kind
  of help for the same hardship within ``duplicate_help_days`` (either side of the delivery),
  found through the gateway's keyed index of the person (``cases.subject_index``), so no
  charity learns anything of another's: the charity's answer is unchanged, and the other help
  record ids are only in the flag's detail, which only compliance lists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.clock import NS_PER_DAY, NS_PER_SECOND
from gateway.exchange import Call
from gateway.store.models import ActorCallCount, Case, HelpRecord, Referral

VOLUME_SPIKE = "volume-spike"
DUPLICATE_HELP = "duplicate-help"

# The calls a volume spike counts: releases of case data and referrals.
COUNTED = frozenset(
    {
        "aidbridge.v1.ReferralService/CreateReferral",
        "aidbridge.v1.CaseService/PullCaseSummary",
        "aidbridge.v1.CaseService/GetContactDetails",
        "aidbridge.v1.CaseService/StreamCaseSummaries",
    }
)
_BUCKET = "b"
_DAY = "d"
# At most this many other help records are named in a duplicate's detail.
_NAMED = 20


def count_call(session: Session, call: Call, calls: int = 1) -> None:
    """Count ``calls`` releases or referrals of the call's actor, flag the call if they take the
    actor over its spike line, and register the count's write with the call's (``call.defer``:
    a refused call counts nothing)."""
    if calls <= 0 or call.method not in COUNTED:
        return
    config = call.app.config
    org, actor, now = call.caller.org, call.caller.actor, call.now_ns
    bucket_ns = config.volume_bucket_s * NS_PER_SECOND
    window_ns = config.volume_window_s * NS_PER_SECOND
    today = now - now % NS_PER_DAY
    mine = (ActorCallCount.org == org, ActorCallCount.actor == actor)
    recent = session.scalar(
        select(func.coalesce(func.sum(ActorCallCount.calls), 0)).where(
            *mine, ActorCallCount.span == _BUCKET, ActorCallCount.start_ns > now - window_ns
        )
    )
    first_day = session.scalar(
        select(func.min(ActorCallCount.start_ns)).where(*mine, ActorCallCount.span == _DAY)
    )
    history_start = today - config.volume_history_days * NS_PER_DAY
    history = session.scalar(
        select(func.coalesce(func.sum(ActorCallCount.calls), 0)).where(
            *mine,
            ActorCallCount.span == _DAY,
            ActorCallCount.start_ns >= history_start,
            ActorCallCount.start_ns < today,
        )
    )
    days = 0
    if first_day is not None and first_day < today:
        days = min(
            config.volume_history_days, (today - max(first_day, history_start)) // NS_PER_DAY
        )
    mean = int(history or 0) / days if days else 0.0
    before = int(recent or 0)
    after = before + calls

    def spiking(n: int) -> bool:
        return n >= config.volume_floor and n > config.volume_ratio * mean

    if spiking(after) and not spiking(before):
        call.facts.flag(
            VOLUME_SPIKE,
            f"{after} releases and referrals in the last {config.volume_window_s} s; trailing "
            f"mean {mean:.1f} a day over {days} day(s) (floor {config.volume_floor}, ratio "
            f"{config.volume_ratio:g})",
        )
    bucket = now - now % bucket_ns

    def write(s: Session) -> None:
        _bump(s, org, actor, _BUCKET, bucket, calls)
        _bump(s, org, actor, _DAY, today, calls)

    call.defer(write)


def purge_buckets(session: Session, now_ns: int, window_s: int) -> int:
    """Drop the short buckets no window reaches any more (the sweep's housekeeping); the day
    rows are the actors' history and stay. Returns how many went."""
    result = session.execute(
        delete(ActorCallCount).where(
            ActorCallCount.span == _BUCKET,
            ActorCallCount.start_ns <= now_ns - window_s * NS_PER_SECOND,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _bump(session: Session, org: str, actor: str, span: str, start_ns: int, calls: int) -> None:
    dialect = session.get_bind().dialect.name
    insert: Any = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(ActorCallCount).values(
        org=org, actor=actor, span=span, start_ns=start_ns, calls=calls
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["org", "actor", "span", "start_ns"],
            set_={"calls": ActorCallCount.calls + calls},
        )
    )


def check_duplicate_help(
    session: Session,
    call: Call,
    *,
    subject_index: str,
    hardship_type: str,
    kind: str,
    delivered_at_ns: int,
) -> None:
    """Flag help of ``kind`` for ``hardship_type`` delivered to the person of ``subject_index``
    when another charity recorded the same within the period (see module doc)."""
    period = call.app.config.duplicate_help_days * NS_PER_DAY
    others = session.execute(
        select(HelpRecord.help_id, HelpRecord.org)
        .join(Referral, Referral.referral_id == HelpRecord.referral_id)
        .join(Case, Case.case_id == Referral.case_id)
        .where(
            Case.subject_index == subject_index,
            HelpRecord.org != call.caller.org,
            HelpRecord.kind == kind,
            Referral.hardship_type == hardship_type,
            HelpRecord.delivered_at_ns >= delivered_at_ns - period,
            HelpRecord.delivered_at_ns <= delivered_at_ns + period,
        )
        .order_by(HelpRecord.help_id)
        .limit(_NAMED + 1)
    ).all()
    if not others:
        return
    named = ", ".join(f"{help_id} ({org})" for help_id, org in others[:_NAMED])
    more = " and more" if len(others) > _NAMED else ""
    call.facts.flag(
        DUPLICATE_HELP,
        f"{kind or 'help'} for {hardship_type or 'the same need'} within "
        f"{call.app.config.duplicate_help_days} days also recorded by other charities: "
        f"{named}{more}",
    )
