"""The integrity detectors that need history, so the gateway runs them rather than the policy
(a decision about one call is the policy's: ``policies/aidbridge/integrity.rego``). Each adds its
flag to the call that triggers it (``Facts.flag``), so the flag is in that call's ledger entry
and in ``ledger_flags``, with what only compliance is told beside it.

- ``volume-spike``: an actor's releases and referrals (``COUNTED``) in the last hour are well
  above its own history — at least ``volume_floor`` calls (so a new actor is not flagged at its
  third call) and more than ``volume_ratio`` times its mean per day over the last
  ``volume_history_days`` days before today (the days since its first call, if fewer). Counted in
  ``actor_call_counts`` (a short bucket and a day row per actor, added by the group commit's
  upsert with the call's ledger entry), read in one statement over the actor's own rows (the
  buckets of the window, a row per day it worked), never the ledger. The call that takes the
  count over the line is flagged, not every call after it; a count that falls back and crosses
  again is flagged again. Times are the gateway clock's (``call.now_ns``), days China's (UTC+8).
- ``duplicate-help``: help recorded for a person whom another charity helped with the same kind
  of help for the same hardship within ``duplicate_help_days`` (either side of the delivery),
  found through the gateway's keyed index of the person (``cases.subject_index``), so no
  charity learns anything of another's: the charity's answer is unchanged, and the other help
  record ids are only in the flag's detail, which only compliance lists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from gateway.clock import NS_PER_DAY, NS_PER_SECOND
from gateway.exchange import Call
from gateway.store.group_commit import Counter
from gateway.store.models import ActorCallCount, Case, HelpRecord, Referral

CHINA_OFFSET_NS = 8 * 3600 * NS_PER_SECOND  # China Standard Time, UTC+8, no daylight saving
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
COUNTS = Counter(ActorCallCount.__table__, "calls")  # type: ignore[arg-type]
_BUCKET = "b"
_DAY = "d"
# At most this many other help records are named in a duplicate's detail.
_NAMED = 20


def _counts_of_actor() -> Any:
    """Built once (a statement built per call costs more than running it): three range reads
    of the primary key (org, actor, span, start_ns) in one statement."""
    t = ActorCallCount
    mine = (t.org == bindparam("org"), t.actor == bindparam("actor"))
    recent = select(func.coalesce(func.sum(t.calls), 0)).where(
        *mine, t.span == _BUCKET, t.start_ns > bindparam("window_start")
    )
    history = select(func.coalesce(func.sum(t.calls), 0)).where(
        *mine,
        t.span == _DAY,
        t.start_ns >= bindparam("history_start"),
        t.start_ns < bindparam("today"),
    )
    first_day = select(func.min(t.start_ns)).where(*mine, t.span == _DAY)
    return select(recent.scalar_subquery(), history.scalar_subquery(), first_day.scalar_subquery())


_COUNTS_OF_ACTOR = _counts_of_actor()


def count_call(session: Session, call: Call, calls: int = 1) -> None:
    """Count ``calls`` releases or referrals of the call's actor, flag the call if they take the
    actor over its spike line, and add the counts to the rows the call inserts with its ledger
    entry (``call.inserts``: a refused call counts nothing, and a pull stays a call with no
    write of its own)."""
    if calls <= 0 or call.method not in COUNTED:
        return
    config = call.app.config
    org, actor, now = call.caller.org, call.caller.actor, call.now_ns
    bucket_ns = config.volume_bucket_s * NS_PER_SECOND
    window_start = now - config.volume_window_s * NS_PER_SECOND
    today = now - (now + CHINA_OFFSET_NS) % NS_PER_DAY  # midnight in China, where offices work
    history_start = today - config.volume_history_days * NS_PER_DAY
    # The window's count, the history's, and the actor's first day: one statement.
    recent, history, first_day = (
        session.connection()
        .execute(
            _COUNTS_OF_ACTOR,
            {
                "org": org,
                "actor": actor,
                "window_start": window_start,
                "history_start": history_start,
                "today": today,
            },
        )
        .one()
    )
    days = 0
    if first_day is not None and first_day < today:
        days = (today - max(int(first_day), history_start)) // NS_PER_DAY
    mean = int(history) / days if days else 0.0
    before = int(recent)
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
    for row_span, row_start in ((_BUCKET, now - now % bucket_ns), (_DAY, today)):
        call.inserts.append(
            (
                COUNTS,
                {
                    "org": org,
                    "actor": actor,
                    "span": row_span,
                    "start_ns": row_start,
                    "calls": calls,
                },
            )
        )


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
