# Tests of integrity.rego through the authz decision, decided by authz_test.rego's helper (see
# there on the `with` form).
package aidbridge.integrity_test

import rego.v1

import data.aidbridge.authz_test

# The flags as a set: regopy hands a sorted set back in a form `==` with an array literal does not
# match, while membership works on both engines.
flag_set(d) := {f | some f in d.flags}

now := 1795804588684864892

day := 86400000000000

caseworker := {"org": "jb-civil-affairs", "role": "government", "actor": "cw-001"}

referral := {
	"kind": "referral", "id": "", "office_id": "jb-civil-affairs", "street": "观音桥街道",
	"from_org": "jb-civil-affairs", "to_org": "charity-sunshine", "state": "",
}

active_consent := {
	"consent_id": "c-1", "version": 1, "state": "active", "recipient_org": "charity-sunshine",
	"purpose": "charitable_assistance", "categories": ["demographics", "hardship"],
	"fields": ["birth_date", "street"], "valid_from_ns": now - day,
	"valid_until_ns": now + day, "grantor_kind": "subject", "access_mode": "view",
}

create := {
	"now_ns": now, "caller": caseworker, "method": "aidbridge.v1.ReferralService/CreateReferral",
	"purpose": "charitable_assistance", "resource": referral, "consent": active_consent,
}

test_referring_a_declared_relative_is_flagged_and_needs_a_second_approver if {
	flag_set(authz_test.decide(relative)) == {"declared-relative", "second-approval"}
}

test_referring_a_declared_relative_is_allowed if {
	authz_test.decide(relative).allow
}

relative := object.union(create, {"conflict": {"declared_relative": true, "relationships": ["sibling"]}})

test_referring_anyone_else_carries_no_integrity_flag if {
	d := authz_test.decide(object.union(create, {"conflict": {"declared_relative": false, "relationships": []}}))
	d.allow
	count(d.flags) == 0
}

test_a_call_without_the_conflict_fact_carries_no_integrity_flag if {
	d := authz_test.decide(create)
	d.allow
	count(d.flags) == 0
}

test_a_method_not_held_is_flagged_only if {
	flag_set(authz_test.decide(getcase)) == {"declared-relative"}
}

getcase := {
	"now_ns": now, "caller": caseworker, "method": "aidbridge.v1.CaseService/GetCase",
	"resource": {"kind": "case", "id": "case-1", "office_id": "jb-civil-affairs", "street": "观音桥街道"},
	"conflict": {"declared_relative": true},
}

test_a_denied_call_carries_no_flag if {
	d := authz_test.decide(object.union(create, {
		"caller": {"org": "charity-harbour", "role": "charity", "actor": "staff-101"},
		"conflict": {"declared_relative": true},
	}))
	not d.allow
	count(d.flags) == 0
}

supervisor := {"org": "jb-supervision", "role": "compliance", "actor": "au-001"}

test_compliance_lists_and_resolves_flags if {
	authz_test.decide({"now_ns": now, "caller": supervisor, "method": "aidbridge.v1.IntegrityService/ListFlags", "resource": {"kind": "none"}}).allow
	authz_test.decide({"now_ns": now, "caller": supervisor, "method": "aidbridge.v1.IntegrityService/ResolveFlag", "resource": {"kind": "ledger", "id": "flag-1"}}).allow
}

test_a_caseworker_cannot_resolve_a_flag if {
	d := authz_test.decide({"now_ns": now, "caller": caseworker, "method": "aidbridge.v1.IntegrityService/ResolveFlag", "resource": {"kind": "ledger", "id": "flag-1"}})
	not d.allow
}

test_a_second_approver_acts_only_for_their_own_organisation if {
	d := authz_test.decide({
		"now_ns": now, "caller": caseworker, "method": "aidbridge.v1.IntegrityService/ApproveAction",
		"resource": {"kind": "action", "id": "act-1", "owner_org": "jb-guanyinqiao-office"},
	})
	not d.allow
}

# --- a charity asking for case data through a referral it does not hold live ---------------

charity := {"org": "charity-sunshine", "role": "charity", "actor": "staff-017"}

pull := {
	"now_ns": now, "caller": charity, "method": "aidbridge.v1.CaseService/PullCaseSummary",
	"purpose": "charitable_assistance", "release": "summary",
	"resource": object.union(referral, {"id": "r-1", "state": "accepted"}),
	"subject": {"age_years": 40, "lacks_capacity": false}, "consent": active_consent,
}

# The pull's referral with some of its fields changed (object.union is shallow on regopy).
pulled(changes) := object.union(pull.resource, changes)

test_a_pull_through_a_live_referral_is_allowed_without_the_flag if {
	d := authz_test.decide(pull)
	d.allow
	not "pull-without-live-referral" in flag_set(d)
}

test_a_pull_through_a_closed_referral_is_denied_and_flagged if {
	some state in ["completed", "cancelled", "rejected", "failed", "expired"]
	d := authz_test.decide(object.union(pull, {"resource": pulled({"state": state})}))
	not d.allow
	flag_set(d) == {"pull-without-live-referral"}
}

test_a_pull_through_another_charitys_referral_is_denied_and_flagged if {
	d := authz_test.decide(object.union(pull, {"resource": pulled({"to_org": "charity-harbour"})}))
	not d.allow
	flag_set(d) == {"pull-without-live-referral"}
}

test_a_stream_summary_and_contact_details_without_a_live_referral_are_flagged if {
	stream := object.union(pull, {
		"method": "aidbridge.v1.CaseService/StreamCaseSummaries",
		"resource": pulled({"state": "completed"}),
	})
	flag_set(authz_test.decide(stream)) == {"pull-without-live-referral"}
	contact := object.union(pull, {
		"method": "aidbridge.v1.CaseService/GetContactDetails", "release": "contact",
		"resource": pulled({"to_org": "charity-harbour"}),
	})
	flag_set(authz_test.decide(contact)) == {"pull-without-live-referral"}
}

test_a_pull_denied_for_its_consent_on_a_live_referral_is_not_flagged if {
	d := authz_test.decide(object.union(pull, {"consent": object.union(active_consent, {"state": "withdrawn"})}))
	not d.allow
	count(d.flags) == 0
}

test_contact_details_before_acceptance_are_denied_but_not_flagged if {
	d := authz_test.decide(object.union(pull, {
		"method": "aidbridge.v1.CaseService/GetContactDetails", "release": "contact",
		"resource": pulled({"state": "requested"}),
	}))
	not d.allow
	count(d.flags) == 0
}

test_a_caller_not_granted_the_release_is_denied_without_the_flag if {
	d := authz_test.decide(object.union(pull, {"caller": caseworker}))
	not d.allow
	count(d.flags) == 0
}
