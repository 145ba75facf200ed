"""Properties of the obligations the policy attaches to every release (hypothesis)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.policy.catalogue import Catalogue
from gateway.policy.embedded import EmbeddedEngine

from .table import BUNDLE, load_table

CATALOGUE = Catalogue.load(BUNDLE)
FIELDS = sorted(CATALOGUE.fields)
CATEGORIES = sorted(CATALOGUE.categories)
# What every allowed call says of its free text and references, beside a release's fields.
_TABLES = json.loads((BUNDLE / "aidbridge" / "data.json").read_text())["disclosures"].values()
DISCLOSURES = set().union(*_TABLES)
RELEASE = next(row[1] for row in load_table() if row[0].startswith("summary obligations"))


def _release_with(fields: list[str], categories: list[str], purpose: str, age: int) -> Any:
    policy_input = copy.deepcopy(RELEASE)
    policy_input["purpose"] = purpose
    policy_input["subject"]["age_years"] = age
    policy_input["consent"].update(
        fields=fields,
        categories=categories,
        purpose=purpose,
        grantor_kind="guardian" if age < 14 else "subject",
    )
    return policy_input


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(st.sampled_from(FIELDS), unique=True),
    categories=st.lists(st.sampled_from(CATEGORIES), unique=True),
    purpose=st.sampled_from(sorted(CATALOGUE.purposes)),
    age=st.integers(min_value=0, max_value=100),
)
def test_a_release_never_carries_more_than_consent_and_purpose_allow(
    embedded: EmbeddedEngine, fields: list[str], categories: list[str], purpose: str, age: int
) -> None:
    decision = embedded.decide(_release_with(fields, categories, purpose, age))
    if not decision.allow:
        assert decision.reasons and not decision.obligations
        return
    # A release lists what it releases and the subject; a field it does not list is dropped.
    assert set(decision.obligations) <= set(FIELDS) | {"subject"} | DISCLOSURES
    assert all(ob["action"] != "drop" for ob in decision.obligations.values())
    assert decision.obligation("subject")["action"] == "pseudonymise"
    assert decision.obligation("resident_id")["action"] == "drop"
    # Released: listed by the purpose's template and the consent; a sensitive field also needs
    # its category named. Everything else is dropped.
    template = CATALOGUE.purposes[purpose].templates["summary"]
    for field in FIELDS:
        category = CATALOGUE.category_of(field)
        released = (
            field in template
            and field in fields
            and (category not in CATALOGUE.sensitive_categories or category in categories)
        )
        if released:
            assert dict(decision.obligation(field)) == dict(template[field]), field
            assert category in CATALOGUE.purposes[purpose].categories, field
        else:
            assert decision.obligation(field)["action"] == "drop", field
    sensitive_out = any(
        decision.obligation(f)["action"] != "drop"
        and CATALOGUE.category_of(f) in CATALOGUE.sensitive_categories
        for f in FIELDS
    )
    assert ("needs-second-approver" in decision.flags) == (age < 18 and sensitive_out)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(offset=st.integers(min_value=-(10**12), max_value=10**12))
def test_validity_window_is_exact_to_the_nanosecond(embedded: EmbeddedEngine, offset: int) -> None:
    policy_input = copy.deepcopy(RELEASE)
    until = policy_input["consent"]["valid_until_ns"]
    policy_input["now_ns"] = until + offset
    decision = embedded.decide(policy_input)
    assert decision.allow is (offset < 0)
