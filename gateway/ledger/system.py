"""Ledger entries for the gateway's own state changes: the ones no call makes.

A call's entry is built in ``gateway.exchange``; everything else that changes what the gateway
holds or enforces writes an entry here, through the same builder (``gateway.ledger.entry``), so
the ledger is the whole history and not only the history of calls (DESIGN.md, "The ledger"):

- the expiry sweep: one entry per consent it expires and one per referral (``subject`` and
  ``consent_id`` set, so a query by subject finds them beside the calls);
- certificate revocation (``aidbridge certs revoke``): the certificate's fingerprint;
- policy reload, accepted or rejected, with the revision in force afterwards;
- key creation at ``aidbridge init``, and the registration of an organisation;
- pseudonym key rotation and retirement (``aidbridge keys``), and an operator's resolution of a
  recipient's pseudonym back to its cases.

Each entry names org ``aidbridge``, role ``gateway``, a method ``aidbridge.system/<Action>``
that no RPC can have (RPC methods are ``<package>.<Service>/<Method>`` under ``aidbridge.v1``),
and as actor the sweep or the operating-system user who ran the command. Entries are queued in
the caller's write transaction like a call's (``gateway.ledger.entry.append(session,
system_exchange(...))``), so each commits with the change it records, or not at all.
"""

from __future__ import annotations

import getpass
import re

from gateway.ledger.entry import Exchange

SYSTEM_ORG = "aidbridge"
SYSTEM_ROLE = "gateway"
METHOD_PREFIX = "aidbridge.system/"

EXPIRE_CONSENT = METHOD_PREFIX + "ExpireConsent"
EXPIRE_REFERRAL = METHOD_PREFIX + "ExpireReferral"
REVOKE_CERTIFICATE = METHOD_PREFIX + "RevokeCertificate"
RELOAD_POLICY = METHOD_PREFIX + "ReloadPolicy"
REQUEST_POLICY_RELOAD = METHOD_PREFIX + "RequestPolicyReload"
CREATE_KEYS = METHOD_PREFIX + "CreateKeys"
REGISTER_ORGANISATION = METHOD_PREFIX + "RegisterOrganisation"
ROTATE_KEYS = METHOD_PREFIX + "RotateKeys"
RETIRE_KEY_VERSION = METHOD_PREFIX + "RetireKeyVersion"
RESOLVE_PSEUDONYM = METHOD_PREFIX + "ResolvePseudonym"

SWEEP_ACTOR = "expiry-sweep"
GATEWAY_ACTOR = "gateway"  # the serving process itself (a reload it was signalled to do)

_ACTOR_UNSAFE = re.compile(r"[^\w.@:-]")


def os_actor() -> str:
    """The operating-system user running a command, as an actor: ``os:<login>``."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return "os:" + _ACTOR_UNSAFE.sub("_", user)[:90]


def system_exchange(
    method: str,
    *,
    at_ns: int,
    actor: str,
    outcome: str = "OK",
    reason: str = "",
    subject: str = "",
    consent_id: str = "",
    consent_version: int = 0,
    purpose: str = "",
    bundle_revision: str = "",
    cert_fingerprint: str = "",
    cert_subject: str = "",
    cert_issuer: str = "",
) -> Exchange:
    """The entry for one state change the gateway made by itself or an operator made on it."""
    if not method.startswith(METHOD_PREFIX):
        raise ValueError(f"a system method starts with {METHOD_PREFIX!r}, found {method!r}")
    return Exchange(
        at_ns=at_ns,
        org=SYSTEM_ORG,
        role=SYSTEM_ROLE,
        actor=actor,
        cert_fingerprint=cert_fingerprint,
        method=method,
        subject=subject,
        purpose=purpose,
        consent_id=consent_id,
        consent_version=consent_version,
        bundle_revision=bundle_revision,
        outcome=outcome,
        reason=reason,
        cert_subject=cert_subject,
        cert_issuer=cert_issuer,
    )
