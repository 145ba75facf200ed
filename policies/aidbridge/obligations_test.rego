# Tests of obligations.rego: pure functions, no input needed.
package aidbridge.obligations_test

import rego.v1

import data.aidbridge.obligations

consent := {
	"categories": ["identity", "demographics", "finances", "narrative"],
	"fields": ["name", "resident_id", "birth_date", "monthly_income", "narrative", "health_condition"],
}

test_resident_id_always_dropped_even_when_consented if {
	obligations.for_release("summary", consent, "charitable_assistance").resident_id == {"action": "drop"}
	obligations.for_release("contact", consent, "charitable_assistance").resident_id == {"action": "drop"}
}

test_income_generalised_against_minimum_living_line if {
	o := obligations.for_release("summary", consent, "charitable_assistance")
	o.monthly_income == {"action": "generalise", "line_fen": data.aidbridge.minimum_living_line_fen}
}

test_narrative_is_scrubbed if {
	obligations.for_release("summary", consent, "charitable_assistance").narrative.action == "scrub"
}

test_sensitive_field_needs_its_category_named if {
	# health_condition is in the fields but the health category is not named.
	obligations.for_release("summary", consent, "medical_aid").health_condition.action == "drop"
}

test_purpose_limits_categories if {
	# elderly_care may not use finances, even when the consent names them.
	obligations.for_release("summary", consent, "elderly_care").monthly_income.action == "drop"
}

test_name_dropped_from_summary_plain_in_contact if {
	obligations.for_release("summary", consent, "charitable_assistance").name.action == "drop"
	obligations.for_release("contact", consent, "charitable_assistance").name.action == "plain"
}

test_every_field_and_subject_covered if {
	o := obligations.for_release("summary", consent, "charitable_assistance")
	count(o) == count(obligations.catalogue_fields) + 1
	o.subject.action == "pseudonymise"
}
