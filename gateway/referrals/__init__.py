"""The referral loop (DESIGN.md "Referrals", issue 11): government → charity referrals with the
states of the HL7 FHIR Task used for referrals (Gravity Project), help delivered on them, and
reverse referrals (charity → government) with the person's consent.

``states`` (with ``transitions.yaml``) is the one place that knows the state machines and who
may set each state; ``model`` holds the values, ``validate`` the rules a request must meet,
``repository`` the store operations — every state change, including the expiry sweep's and the
consent-withdrawal cascade's, goes through it. No grpc here: ``gateway.services.referrals``
translates.
"""

from gateway.referrals.repository import (
    get_referral,
    note_of,
    policy_resource,
    require_live,
)
from gateway.referrals.states import (
    ACCEPTED,
    CANCELLED,
    CANCELLED_BY_WITHDRAWAL,
    COMPLETED,
    EXPIRED,
    LIVE_FOR,
    REJECTED,
    REQUESTED,
)

__all__ = [
    "ACCEPTED",
    "CANCELLED",
    "CANCELLED_BY_WITHDRAWAL",
    "COMPLETED",
    "EXPIRED",
    "LIVE_FOR",
    "REJECTED",
    "REQUESTED",
    "get_referral",
    "note_of",
    "policy_resource",
    "require_live",
]
