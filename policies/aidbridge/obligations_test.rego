# Tests of obligations.rego: pure functions, no input needed.
package aidbridge.obligations_test

import rego.v1

import data.aidbridge.obligations

consent := {
	"categories": ["identity", "demographics", "finances", "narrative"],
	"fields": ["name", "resident_id", "birth_date", "monthly_income", "narrative", "health_condition"],
}

test_resident_id_always_dropped_even_when_consented if {
	summary := obligations.for_release("summary", consent, "charitable_assistance")
	obligations.obligation_of(summary, "resident_id") == {"action": "drop"}
	contact := obligations.for_release("contact", consent, "charitable_assistance")
	obligations.obligation_of(contact, "resident_id") == {"action": "drop"}
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
	o := obligations.for_release("summary", consent, "medical_aid")
	obligations.obligation_of(o, "health_condition").action == "drop"
}

test_purpose_limits_categories if {
	# elderly_care may not use finances, even when the consent names them.
	o := obligations.for_release("summary", consent, "elderly_care")
	obligations.obligation_of(o, "monthly_income").action == "drop"
}

test_name_dropped_from_summary_plain_in_contact if {
	summary := obligations.for_release("summary", consent, "charitable_assistance")
	obligations.obligation_of(summary, "name").action == "drop"
	obligations.for_release("contact", consent, "charitable_assistance").name.action == "plain"
}

test_a_release_lists_released_fields_and_the_subject_only if {
	o := obligations.for_release("summary", consent, "charitable_assistance")
	o.subject.action == "pseudonymise"
	listed := object.keys(object.remove(o, ["subject"]))
	listed == {"birth_date", "monthly_income", "narrative"}
	every field in listed {
		field in obligations.catalogue_fields
		o[field].action != "drop"
	}
}

test_a_missing_field_is_a_drop if {
	obligations.obligation_of({"sex": {"action": "plain"}}, "sex") == {"action": "plain"}
	obligations.obligation_of({"sex": {"action": "plain"}}, "name") == {"action": "drop"}
}

test_consent_without_categories_names_no_sensitive_category if {
	c := object.remove(consent, ["categories"])
	o := obligations.for_release("summary", object.union(c, {"fields": ["health_condition", "sex"]}), "medical_aid")
	obligations.obligation_of(o, "health_condition").action == "drop"
	o.sex.action == "plain"
}

test_consent_without_fields_releases_only_the_subject if {
	obligations.for_release("summary", object.remove(consent, ["fields"]), "charitable_assistance") == obligations.subject_pseudonym
}

test_a_charity_gets_every_free_text_scrubbed_and_no_case_id if {
	d := obligations.disclosures_of("charity")
	every name in ["referral_note", "event_reason", "help_description", "reverse_reason", "outcome_note"] {
		d[name] == {"action": "scrub"}
	}
	obligations.obligation_of(d, "case_id") == {"action": "drop"}
	obligations.obligation_of(d, "reverse_subject") == {"action": "drop"}
	d.referral_subject == {"action": "pseudonymise"}
}

test_an_office_gets_its_own_records_as_written if {
	d := obligations.disclosures_of("government")
	every name in ["referral_note", "event_reason", "help_description", "reverse_reason", "outcome_note", "case_id", "reverse_subject"] {
		d[name] == {"action": "plain"}
	}
	obligations.obligation_of(d, "referral_subject") == {"action": "drop"}
}

test_an_unknown_role_gets_the_strictest if {
	obligations.disclosures_of("stranger") == obligations.disclosures_of("charity")
	obligations.disclosures_of(7) == obligations.disclosures_of("charity")
}
