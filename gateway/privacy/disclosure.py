"""The one path of what leaves the gateway about a person (DESIGN.md "Privacy transforms").

Every allowed decision carries obligations (``policies/aidbridge/obligations.rego``): a release
names the case fields it releases and how (``gateway.privacy.transform``), and every call names
what its free text and references become for this caller (``disclosures_of``, data.json
"disclosures"):

* free text — the referral note (``referral_note``), a state change's reason
  (``event_reason``), a help record's description (``help_description``), a reverse referral's
  reason and the office's outcome note (``reverse_reason``, ``outcome_note``) — is "plain"
  (as written), "scrub" (the record's known values first, with role tags, then what the
  release withholds — exact age, income, illness, community, assistance status — then the
  recognisers) or "drop"; a text the obligations do not name is scrubbed;
* references — the office's case id (``case_id``), the person as the caller's pseudonym
  (``referral_subject``), a reverse referral's subject (``reverse_subject``) — leave only when
  named with an action other than "drop";
* error messages leave through ``error_message`` for every caller: scrubbed of the known values
  of what the call touched and of every identifier the recognisers find, the gateway's own ids
  left as they are.

The services hold no rule of their own about who may see what: they build a ``Disclosure``
from the call's decision and the record, and send what it returns. Nothing here decrypts: the
caller passes the record once the policy has allowed the call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from gateway.clock import to_date
from gateway.keys import KeyRing
from gateway.privacy.pseudonyms import pseudonym_for
from gateway.privacy.scrub import KnownValue, known_values, scrub_narrative
from gateway.privacy.scrub.memo import MEMO
from gateway.privacy.transform import ObligationError, Released, apply_obligations, withheld_values

if TYPE_CHECKING:
    from gateway.exchange import Call

TEXTS = frozenset(
    {"referral_note", "event_reason", "help_description", "reverse_reason", "outcome_note"}
)
REFERENCES = frozenset({"case_id", "referral_subject", "reverse_subject"})
# Names of a call's obligations that are not fields of a case record.
DISCLOSURE_NAMES = TEXTS | REFERENCES
_TEXT_ACTIONS = frozenset({"plain", "scrub", "drop"})
_DROP: Mapping[str, Any] = {"action": "drop"}
_SCRUB: Mapping[str, Any] = {"action": "scrub"}
# The gateway's own identifiers: never a person's, left as they are in an error message (a
# referral id's 20 hex digits can hold a run the number recognisers would remove in doubt).
_GATEWAY_ID = re.compile(
    r"(?:case|ref|rev|proj|help|decl|flag|act|c|n)-[0-9a-f]{6,40}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|k[0-9]{1,3}\.[a-z2-7]{16,64}"
)


@dataclass(frozen=True)
class Disclosure:
    """What one call may let leave about one record, by its decision's obligations."""

    obligations: Mapping[str, Mapping[str, Any]]
    known: tuple[KnownValue, ...]
    keys: KeyRing
    recipient: str

    def action(self, name: str) -> str:
        default = _SCRUB if name in TEXTS else _DROP
        action = self.obligations.get(name, default).get("action")
        return str(action)

    def text(self, name: str, text: str) -> str:
        """Free text ``name`` as this caller may receive it."""
        if name not in TEXTS:
            raise ObligationError(f"expected one of {sorted(TEXTS)} as free text, found {name!r}")
        action = self.action(name)
        if action not in _TEXT_ACTIONS:
            raise ObligationError(
                f"expected the action of {name!r} to be plain, scrub or drop, found {action!r}"
            )
        if not text or action == "plain":
            return text
        if action == "drop":
            return ""
        return MEMO.scrub(text, self.known)

    def shows(self, name: str) -> bool:
        """Whether reference ``name`` leaves with this call."""
        if name not in REFERENCES:
            raise ObligationError(f"expected one of {sorted(REFERENCES)}, found {name!r}")
        return self.action(name) != "drop"

    def subject(self, resident_id: str) -> str:
        """The person as this caller knows them: its pseudonym, or "" when not disclosed."""
        action = self.action("referral_subject")
        if action == "drop" or not resident_id:
            return ""
        if action != "pseudonymise":
            raise ObligationError(
                f"expected the person to be pseudonymised or dropped, found {action!r}"
            )
        return pseudonym_for(self.keys, self.recipient, resident_id)


def disclosure(
    call: Call,
    record: Mapping[str, Any],
    *,
    released: Mapping[str, str] | None = None,
    known: tuple[KnownValue, ...] | None = None,
) -> Disclosure:
    """The disclosure of ``record`` to ``call``'s caller, by the call's decision. ``released``
    gives the case fields the same call releases (field → action): what it releases plain, a
    scrubbed text may repeat; every other value of the record is withheld from the text too.
    ``known``: those values already worked out for the same release (``Released.known``)."""
    decision = call.decision
    obligations = decision.obligations if decision is not None and decision.allow else {}
    if known is None:
        actions = dict(released or {})
        known = tuple(known_values(record) + withheld_values(record, actions, to_date(call.now_ns)))
    call.known.extend(known)
    return Disclosure(
        obligations=obligations,
        known=tuple(known),
        keys=call.app.keys,
        recipient=call.caller.org,
    )


def release_case(
    call: Call, record: Mapping[str, Any], *, today: date | None = None
) -> tuple[Released, Disclosure]:
    """The case fields the call's decision releases (``apply_obligations``), and the
    disclosure of the call's other texts under the same release."""
    decision = call.decision
    if decision is None or not decision.allow:
        raise ObligationError("no decision allows a release on this call")
    fields = {k: v for k, v in decision.obligations.items() if k not in DISCLOSURE_NAMES}
    released = apply_obligations(
        record,
        fields,
        keys=call.app.keys,
        recipient=call.caller.org,
        today=today or to_date(call.now_ns),
    )
    # The release's known values are the disclosure's: withheld are the values of the fields it
    # does not release plain (a field it releases plain with an empty value withholds nothing),
    # on the same day.
    same_day = today is None or today == to_date(call.now_ns)
    return released, disclosure(
        call,
        record,
        released=dict(released.fields),
        known=released.known if same_day else None,
    )


def error_message(message: str, known: list[Any] | tuple[Any, ...] = ()) -> str:
    """An error message as any caller receives it: the known values of the records the call
    touched and every identifier the recognisers find removed; the gateway's own ids kept."""
    if not message:
        return message
    parts: list[str] = []
    at = 0
    for found in _GATEWAY_ID.finditer(message):
        parts.append(scrub_narrative(message[at : found.start()], known))
        parts.append(found.group(0))
        at = found.end()
    parts.append(scrub_narrative(message[at:], known))
    return "".join(parts)
