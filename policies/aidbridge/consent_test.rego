# Tests of consent.rego through the functions it exposes.
package aidbridge.consent_test

import rego.v1

import data.aidbridge.consent

base := {
	"consent_id": "c-9", "state": "active", "recipient_org": "charity-sunshine",
	"purpose": "medical_aid", "categories": ["health"], "fields": ["health_condition"],
	"valid_from_ns": 0, "valid_until_ns": 2000000000000000000, "grantor_kind": "subject",
}

problems_for(c, subject, now) := p if {
	p := consent.problems("summary") with input.consent as c
		with input.subject as subject
		with input.now_ns as now
		with input.purpose as "medical_aid"
		with input.caller as {"org": "charity-sunshine"}
}

test_active_consent_has_no_problems if {
	problems_for(base, {"age_years": 30}, 1795804588684864892) == set()
}

test_consent_without_expiry_is_not_in_force if {
	p := problems_for(object.union(base, {"valid_until_ns": 0}), {"age_years": 30}, 1)
	"consent has no expiry date" in p
}

test_unknown_age_fails_closed if {
	p := problems_for(base, null, 1)
	"the subject's age is unknown: cannot check who may consent" in p
}

test_missing_clock_fails_closed if {
	p := problems_for(base, {"age_years": 30}, null)
	"the call's time (now_ns) is missing" in p
}

test_guardian_valid_for_child if {
	c := object.union(base, {"grantor_kind": "guardian", "categories": ["health", "minors_data"]})
	problems_for(c, {"age_years": 8}, 1) == set()
}

# A rule (like base) given to `with` directly is misread by regopy 1.5.2: bind it first.
test_referral_requires_consent_naming_the_recipient if {
	c := base
	p := consent.referral_problems with input.consent as c
		with input.now_ns as 1
		with input.purpose as "medical_aid"
		with input.resource as {"to_org": "charity-harbour"}
	p == {"no active consent names charity-harbour as recipient"}
}

test_subject_without_an_age_fails_closed if {
	p := problems_for(base, {"lacks_capacity": false}, 1)
	p == {"the subject's age is unknown: cannot check who may consent"}
}

test_minor_consent_without_categories_must_name_minors_data if {
	p := problems_for(object.remove(base, ["categories"]), {"age_years": 16}, 1)
	p == {"a subject under 18: the consent must name the minors_data category"}
}

test_consent_without_a_state_is_not_active if {
	p := problems_for(object.remove(base, ["state"]), {"age_years": 30}, 1)
	p == {"consent c-9 is in no state, not active"}
}
