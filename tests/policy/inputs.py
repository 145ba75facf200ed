"""Generated policy inputs around the input schema (authz.rego's header), from a seeded RNG.

Each input is what a service could send, or a careless or hostile one: callers of every
registered organisation with their role, a wrong role, an unknown organisation or none;
every method of the grants table, an unknown one or none; resources of every kind with each
key present, absent or of the wrong type; subjects aged around 14 and 18, without an age or
capacity; consents with each field valid, missing or odd (categories absent, a string instead
of a list, times around the validity bounds and the call's time, 0, text). The same seed gives
the same inputs, so a difference found is reproducible from its index.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from .table import BUNDLE

DATA = json.loads((BUNDLE / "aidbridge" / "data.json").read_text(encoding="utf-8"))
NOW = 1795804588684864892
DAY = 86_400 * 10**9

ORGS = sorted(DATA["orgs"])
METHODS = sorted(DATA["grants"])
PURPOSES = sorted(DATA["purposes"])
STREETS = DATA["streets"]
CATEGORIES = sorted(DATA["categories"])
FIELDS = sorted(DATA["field_category"])
KINDS = ["none", "case", "consent", "referral", "reverse_referral", "notification", "project"]
STATES = ["", "requested", "accepted", "in-progress", "on-hold", "completed", "failed"]
STATES += ["rejected", "cancelled"]
CONSENT_STATES = ["active", "active", "active", "expired", "withdrawn", "superseded", ""]
# Values of the wrong type or shape, for any key.
ODD: list[Any] = [None, "", 0, -1, True, [], {}, "观音桥街道", [1, 2], {"a": 1}]

_MISSING = object()


def _maybe(rng: random.Random, value: Any, *, absent: float = 0.15, odd: float = 0.05) -> Any:
    roll = rng.random()
    if roll < absent:
        return _MISSING
    if roll < absent + odd:
        return rng.choice(ODD)
    return value


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not _MISSING:
        target[key] = value


def _caller(rng: random.Random) -> Any:
    roll = rng.random()
    org = rng.choice(ORGS)
    role = DATA["orgs"][org]["role"]
    if roll < 0.08:
        org = rng.choice(["charity-unknown", "jb-other-office", "", "JB-CIVIL-AFFAIRS"])
    elif roll < 0.16:
        role = rng.choice(["government", "charity", "compliance", "admin", ""])
    caller: dict[str, Any] = {}
    _put(caller, "org", _maybe(rng, org, absent=0.03, odd=0.02))
    _put(caller, "role", _maybe(rng, role, absent=0.03, odd=0.02))
    _put(caller, "actor", _maybe(rng, "staff-1", absent=0.1, odd=0.0))
    return _maybe(rng, caller, absent=0.02, odd=0.02)


def _check(method: Any, caller: Any) -> dict[str, Any]:
    role = caller.get("role") if isinstance(caller, dict) else None
    grants = DATA["grants"].get(method, {}) if isinstance(method, str) else {}
    name = grants.get(role) if isinstance(role, str) else None
    if name is None and grants:
        name = next(iter(grants.values()))
    return DATA["checks"].get(name, {}) if name else {}


def _resource(rng: random.Random, check: dict[str, Any], caller: Any) -> Any:
    caller_org = caller.get("org") if isinstance(caller, dict) else None
    orgs = [*ORGS, "charity-unknown"] + ([caller_org] * 4 if isinstance(caller_org, str) else [])
    kind = rng.choice(check.get("kinds") or KINDS) if rng.random() < 0.85 else rng.choice(KINDS)
    states = check.get("states") or STATES
    targets = check.get("target_states") or STATES
    resource: dict[str, Any] = {}
    _put(resource, "kind", _maybe(rng, kind, absent=0.05))
    _put(resource, "id", _maybe(rng, rng.choice(["", "case-1", "r-1", "c-1"])))
    _put(resource, "office_id", _maybe(rng, rng.choice(orgs)))
    _put(resource, "from_org", _maybe(rng, rng.choice(orgs)))
    _put(resource, "to_org", _maybe(rng, rng.choice(orgs)))
    _put(resource, "owner_org", _maybe(rng, rng.choice(orgs)))
    _put(resource, "state", _maybe(rng, rng.choice(states if rng.random() < 0.7 else STATES)))
    _put(
        resource, "target_state", _maybe(rng, rng.choice(targets if rng.random() < 0.7 else STATES))
    )
    _put(resource, "street", _maybe(rng, rng.choice([*STREETS, "不存在街道"]), absent=0.2))
    return _maybe(rng, resource, absent=0.05, odd=0.03)


def _subject(rng: random.Random) -> Any:
    subject: dict[str, Any] = {}
    age = rng.choice([0, 9, 13, 14, 15, 17, 18, 19, 40, 80, -1, 13.5, 17.99])
    _put(subject, "age_years", _maybe(rng, age, absent=0.1, odd=0.05))
    _put(subject, "lacks_capacity", _maybe(rng, rng.random() < 0.2, absent=0.1, odd=0.05))
    return _maybe(rng, subject, absent=0.05, odd=0.03)


def _time(rng: random.Random, around: int) -> Any:
    return rng.choice([around - 1, around, around + 1, around - DAY, around + DAY, 0])


def _consent(rng: random.Random, caller: Any, resource: Any, purpose: Any) -> Any:
    recipients = [*ORGS, "charity-unknown"]
    if isinstance(caller, dict) and isinstance(caller.get("org"), str):
        recipients += [caller["org"]] * 4
    if isinstance(resource, dict) and isinstance(resource.get("to_org"), str):
        recipients += [resource["to_org"]] * 4
    categories = rng.sample(CATEGORIES, rng.randint(0, len(CATEGORIES)))
    fields = rng.sample(FIELDS, rng.randint(0, len(FIELDS)))
    consent: dict[str, Any] = {}
    _put(consent, "consent_id", _maybe(rng, "c-1", absent=0.1))
    _put(consent, "version", _maybe(rng, 1, absent=0.3))
    _put(consent, "state", _maybe(rng, rng.choice(CONSENT_STATES), absent=0.05))
    _put(consent, "recipient_org", _maybe(rng, rng.choice(recipients), absent=0.05))
    p = purpose if rng.random() < 0.8 and isinstance(purpose, str) else rng.choice(PURPOSES)
    _put(consent, "purpose", _maybe(rng, p, absent=0.05))
    _put(consent, "categories", _maybe(rng, categories, absent=0.1, odd=0.05))
    _put(consent, "fields", _maybe(rng, fields, absent=0.1, odd=0.05))
    _put(consent, "valid_from_ns", _maybe(rng, _time(rng, NOW - DAY), absent=0.05, odd=0.03))
    _put(consent, "valid_until_ns", _maybe(rng, _time(rng, NOW + DAY), absent=0.05, odd=0.03))
    grantor = rng.choice(["subject", "subject", "guardian", "guardian", "parent", ""])
    _put(consent, "grantor_kind", _maybe(rng, grantor, absent=0.05))
    _put(consent, "access_mode", _maybe(rng, "view", absent=0.3))
    return _maybe(rng, consent, absent=0.08, odd=0.03)


def policy_input(rng: random.Random) -> dict[str, Any]:
    """One generated input: a plausible call with some of its parts missing or odd."""
    caller = _caller(rng)
    method = rng.choice(METHODS) if rng.random() < 0.95 else rng.choice(["aidbridge.v1.X/Y", 7])
    check = _check(method, caller)
    release = check.get("release", "nothing")
    if rng.random() < 0.1:
        release = rng.choice(["summary", "contact", "everything", 1])
    purpose = rng.choice(PURPOSES) if rng.random() < 0.9 else rng.choice(["marketing", 3])
    resource = _resource(rng, check, caller)
    result: dict[str, Any] = {}
    _put(result, "now_ns", _maybe(rng, NOW, absent=0.03, odd=0.02))
    _put(result, "caller", caller)
    _put(result, "method", _maybe(rng, method, absent=0.02, odd=0.0))
    _put(result, "purpose", _maybe(rng, purpose, absent=0.05, odd=0.02))
    if release != "nothing":
        _put(result, "release", _maybe(rng, release, absent=0.05, odd=0.02))
    _put(result, "resource", resource)
    _put(result, "subject", _subject(rng))
    _put(result, "consent", _consent(rng, caller, resource, purpose))
    return result


def generate(count: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        yield policy_input(rng)
