# Tests of authz.rego. Run: `aidbridge policy test` (embedded regopy) or `opa test policies/`.
#
# regopy 1.5.2 cannot compile `with input as {...}` when the policy calls any function, so the
# helper below replaces input key by key (`with input.caller as ...`), which both engines accept;
# absent keys are given as null, which the policy treats as absent. Values reach `with` as local
# variables: regopy misreads a rule reference there. regopy's compile time grows with every
# `with` in the bundle's tests (about a second each), so the other test modules decide through
# this one helper too.
package aidbridge.authz_test

import rego.v1

import data.aidbridge.authz
import data.aidbridge.obligations

decide(i) := d if {
	now_ns := object.get(i, "now_ns", null)
	caller := object.get(i, "caller", null)
	method := object.get(i, "method", null)
	purpose := object.get(i, "purpose", null)
	release := object.get(i, "release", null)
	resource := object.get(i, "resource", null)
	subject := object.get(i, "subject", null)
	consent := object.get(i, "consent", null)
	conflict := object.get(i, "conflict", null)
	d := authz.decision with input.now_ns as now_ns
		with input.caller as caller
		with input.method as method
		with input.purpose as purpose
		with input.release as release
		with input.resource as resource
		with input.subject as subject
		with input.consent as consent
		with input.conflict as conflict
}

now := 1795804588684864892

day := 86400000000000

sunshine := {"org": "charity-sunshine", "role": "charity", "actor": "staff-017"}

harbour := {"org": "charity-harbour", "role": "charity", "actor": "staff-101"}

bureau := {"org": "jb-civil-affairs", "role": "government", "actor": "cw-001"}

street_office := {"org": "jb-guanyinqiao-office", "role": "government", "actor": "cw-201"}

supervisor := {"org": "jb-supervision", "role": "compliance", "actor": "au-001"}

referral := {
	"kind": "referral", "id": "r-1", "office_id": "jb-civil-affairs",
	"from_org": "jb-civil-affairs", "to_org": "charity-sunshine", "state": "requested",
	"street": "观音桥街道",
}

active_consent := {
	"consent_id": "c-1", "version": 1, "state": "active", "recipient_org": "charity-sunshine",
	"purpose": "charitable_assistance",
	"categories": ["identity", "contact", "demographics", "hardship", "health"],
	"fields": ["name", "phone", "address", "birth_date", "sex", "street", "hardship_types", "health_condition"],
	"valid_from_ns": now - day, "valid_until_ns": now + (365 * day), "grantor_kind": "subject",
	"access_mode": "view",
}

pull := {
	"now_ns": now, "caller": sunshine, "method": "aidbridge.v1.CaseService/PullCaseSummary",
	"purpose": "charitable_assistance", "release": "summary", "resource": referral,
	"subject": {"age_years": 40, "lacks_capacity": false}, "consent": active_consent,
}

contact := object.union(pull, {
	"method": "aidbridge.v1.CaseService/GetContactDetails", "release": "contact",
	"resource": object.union(referral, {"state": "accepted"}),
})

test_charity_pulls_summary_of_referral_to_itself if {
	d := decide(pull)
	d.allow
	d.reasons == []
}

test_summary_generalises_birth_date_to_ten_year_band if {
	d := decide(pull)
	d.obligations.birth_date == {"action": "generalise", "band": 10}
	d.obligations.street == {"action": "generalise", "level": "street"}
}

test_summary_never_releases_direct_identifiers if {
	d := decide(pull)
	every f in ["name", "phone", "address", "resident_id"] {
		obligations.obligation_of(d.obligations, f).action == "drop"
	}
	d.obligations.subject.action == "pseudonymise"
}

test_summary_drops_fields_outside_the_consent if {
	d := decide(pull)
	obligations.obligation_of(d.obligations, "monthly_income").action == "drop"
	obligations.obligation_of(d.obligations, "narrative").action == "drop"
}

# A release lists what it releases (never a drop, never a field outside the catalogue).
test_a_release_lists_only_catalogue_fields_it_releases if {
	d := decide(pull)
	released := d.obligations
	every field, ob in object.remove(released, ["subject"]) {
		data.aidbridge.field_category[field]
		ob.action != "drop"
	}
	count(released) == 6
	released.subject == {"action": "pseudonymise"}
}

test_a_call_releasing_nothing_says_what_its_free_text_becomes if {
	d := decide({"now_ns": now, "caller": sunshine, "method": "aidbridge.v1.ReferralService/ListReferrals", "resource": {"kind": "none"}})
	d.allow
	d.obligations == data.aidbridge.disclosures.charity
}

test_a_release_names_no_text_beyond_its_fields if {
	d := decide(pull)
	object.filter(d.obligations, object.keys(data.aidbridge.disclosures.charity)) == {}
}

test_charity_cannot_pull_referral_to_another_charity if {
	d := decide(object.union(pull, {"caller": harbour}))
	not d.allow
	"referral r-1 was not sent to charity-harbour" in d.reasons
	"no active consent names charity-harbour as recipient" in d.reasons
	d.obligations == {}
}

test_expired_consent_is_denied_at_the_exact_nanosecond if {
	c := object.union(active_consent, {"valid_until_ns": now})
	d := decide(object.union(pull, {"consent": c}))
	not d.allow
	"consent expired" in d.reasons
}

# Times near 1.8e18 ns need exact 64-bit integers; an engine that compared them as doubles
# would allow this one nanosecond late (and this test is how an engine difference shows).
test_consent_valid_one_nanosecond_before_expiry if {
	c := object.union(active_consent, {"valid_until_ns": now + 1})
	decide(object.union(pull, {"consent": c})).allow
}

test_consent_not_yet_valid_is_denied if {
	c := object.union(active_consent, {"valid_from_ns": now + 1})
	d := decide(object.union(pull, {"consent": c}))
	"consent is not yet valid" in d.reasons
}

test_withdrawn_consent_is_denied if {
	c := object.union(active_consent, {"state": "withdrawn"})
	d := decide(object.union(pull, {"consent": c}))
	not d.allow
	"consent c-1 is withdrawn, not active" in d.reasons
}

test_consent_for_another_purpose_is_denied if {
	d := decide(object.union(pull, {"purpose": "medical_aid"}))
	not d.allow
	"consent is for purpose charitable_assistance, the call is for medical_aid" in d.reasons
}

test_release_without_consent_is_denied if {
	d := decide(object.remove(pull, ["consent"]))
	not d.allow
	"no consent was given for this release" in d.reasons
}

test_child_under_14_needs_guardian_consent if {
	d := decide(object.union(pull, {"subject": {"age_years": 9, "lacks_capacity": false}}))
	not d.allow
	"guardian consent required: subject is under 14" in d.reasons
}

test_guardian_consent_lapses_at_14 if {
	c := object.union(active_consent, {"grantor_kind": "guardian", "categories": array.concat(active_consent.categories, ["minors_data"])})
	d := decide(object.union(pull, {"consent": c, "subject": {"age_years": 14, "lacks_capacity": false}}))
	not d.allow
	"guardian consent lapsed: subject is now 14 or older; record the person's own consent" in d.reasons
}

test_adult_lacking_capacity_needs_guardian if {
	d := decide(object.union(pull, {"subject": {"age_years": 50, "lacks_capacity": true}}))
	"guardian consent required: subject lacks capacity" in d.reasons
}

test_minor_needs_minors_data_category if {
	d := decide(object.union(pull, {"subject": {"age_years": 16, "lacks_capacity": false}}))
	not d.allow
	"a subject under 18: the consent must name the minors_data category" in d.reasons
}

test_sensitive_release_about_a_minor_needs_second_approver if {
	c := object.union(active_consent, {"categories": array.concat(active_consent.categories, ["minors_data"])})
	d := decide(object.union(pull, {"consent": c, "subject": {"age_years": 16, "lacks_capacity": false}}))
	d.allow
	"needs-second-approver" in d.flags
}

test_contact_released_after_acceptance if {
	d := decide(contact)
	d.allow
	d.obligations.name.action == "plain"
	d.obligations.phone.action == "plain"
	obligations.obligation_of(d.obligations, "birth_date").action == "drop"
}

test_contact_withheld_before_acceptance if {
	d := decide(object.union(contact, {"resource": referral}))
	not d.allow
	"contact details are released only after acceptance: referral r-1 is requested" in d.reasons
}

test_contact_needs_contact_category if {
	c := object.union(active_consent, {"categories": ["demographics"]})
	d := decide(object.union(contact, {"consent": c}))
	"consent does not cover contact details" in d.reasons
}

test_unknown_organisation_is_denied if {
	d := decide(object.union(pull, {"caller": {"org": "charity-x", "role": "charity", "actor": "a"}}))
	not d.allow
	"unknown organisation charity-x: not in the registry" in d.reasons
}

test_role_must_match_the_registry if {
	d := decide(object.union(pull, {"caller": {"org": "charity-sunshine", "role": "government", "actor": "a"}}))
	not d.allow
	"role mismatch: charity-sunshine is registered as charity, the call claims government" in d.reasons
}

test_unknown_method_is_denied if {
	d := decide(object.union(pull, {"method": "aidbridge.v1.CaseService/DeleteEverything"}))
	not d.allow
	"unknown method aidbridge.v1.CaseService/DeleteEverything" in d.reasons
}

test_release_kind_must_match_method if {
	d := decide(object.union(pull, {"release": "contact"}))
	not d.allow
}

test_government_registers_case_in_its_jurisdiction if {
	i := {
		"now_ns": now, "caller": street_office, "method": "aidbridge.v1.CaseService/RegisterCase",
		"resource": {"kind": "case", "id": "", "street": "观音桥街道"},
	}
	decide(i).allow
	d := decide(object.union(i, {"resource": {"kind": "case", "id": "", "street": "鱼嘴镇"}}))
	not d.allow
}

# The decision's one reason. (Not `d.reasons == [msg]`: regopy 1.5.2 answers undefined when
# a computed array is compared with a literal one.)
only_reason(d, msg) if {
	msg in d.reasons
	count(d.reasons) == 1
}

# The reason a street office gets outside its area. (Built with sprintf like the reason itself:
# regopy 1.5.2 does not find a reason with Chinese text equal to the same text as a literal.)
no_jurisdiction(street) := sprintf("jb-guanyinqiao-office has no jurisdiction over street %s", [street])

# An office's service area (its registry streets) bounds every write and read of a case:
# jb-guanyinqiao-office covers 观音桥街道 alone, the bureau the whole district.
office_case := {"kind": "case", "id": "case-9", "office_id": "jb-guanyinqiao-office", "street": "观音桥街道"}

office_call(method, street) := {
	"now_ns": now, "caller": street_office, "method": method,
	"resource": object.union(office_case, {"street": street}),
}

test_street_office_cannot_register_a_case_on_another_street if {
	d1 := decide(office_call("aidbridge.v1.CaseService/RegisterCase", "华新街街道"))
	only_reason(d1, no_jurisdiction("华新街街道"))
	d2 := decide(office_call("aidbridge.v1.CaseService/RegisterCase", "鱼嘴镇"))
	only_reason(d2, no_jurisdiction("鱼嘴镇"))
	not d1.allow
	not d2.allow
}

# Allowed on the office's own street, refused one street over: the area is the only difference.
# (Spelled out call by call: regopy 1.5.2 does not evaluate `with` inside `every`.)
inside_only(method) if {
	decide(office_call(method, "观音桥街道")).allow
	not decide(office_call(method, "华新街街道")).allow
}

test_street_office_reaches_no_case_outside_its_area_even_one_it_registered if {
	inside_only("aidbridge.v1.CaseService/GetCase")
	inside_only("aidbridge.v1.ConsentService/RecordConsent")
	inside_only("aidbridge.v1.ConsentService/GetConsent")
	inside_only("aidbridge.v1.ConsentService/ListConsents")
	inside_only("aidbridge.v1.ConsentService/WithdrawConsent")
	inside_only("aidbridge.v1.ConsentService/MarkEnteredInError")
	inside_only("aidbridge.v1.ConsentService/GetConsentReceipt")
	inside_only("aidbridge.v1.ConsentService/ListConsentEvents")
	inside_only("aidbridge.v1.ResourceService/MatchCharities")
}

sent_by_office := object.union(referral, {"from_org": "jb-guanyinqiao-office", "target_state": "cancelled"})

referral_call(method, street) := {
	"now_ns": now, "caller": street_office, "method": method,
	"resource": object.union(sent_by_office, {"street": street}),
}

test_street_office_reaches_no_referral_outside_its_area if {
	decide(referral_call("aidbridge.v1.ReferralService/GetReferral", "观音桥街道")).allow
	decide(referral_call("aidbridge.v1.ReferralService/UpdateReferralState", "观音桥街道")).allow
	d1 := decide(referral_call("aidbridge.v1.ReferralService/GetReferral", "鱼嘴镇"))
	only_reason(d1, no_jurisdiction("鱼嘴镇"))
	d2 := decide(referral_call("aidbridge.v1.ReferralService/UpdateReferralState", "鱼嘴镇"))
	only_reason(d2, no_jurisdiction("鱼嘴镇"))
}

test_district_office_reaches_streets_beyond_the_street_office if {
	i := object.union(office_call("aidbridge.v1.CaseService/GetCase", "鱼嘴镇"), {"caller": bureau})
	decide(i).allow
	j := object.union(office_call("aidbridge.v1.CaseService/RegisterCase", "华新街街道"), {"caller": bureau})
	decide(j).allow
}

test_a_case_without_a_street_is_outside_every_area if {
	r := object.remove(office_case, ["street"])
	d := decide({"now_ns": now, "caller": bureau, "method": "aidbridge.v1.CaseService/GetCase", "resource": r})
	only_reason(d, "jb-civil-affairs has no jurisdiction over street (none given)")
}

test_government_cancels_but_cannot_accept if {
	i := {
		"now_ns": now, "caller": bureau, "method": "aidbridge.v1.ReferralService/UpdateReferralState",
		"resource": object.union(referral, {"target_state": "cancelled"}),
	}
	decide(i).allow
	not decide(object.union(i, {"resource": object.union(referral, {"target_state": "accepted"})})).allow
}

test_compliance_reads_ledger_but_writes_no_case if {
	decide({"now_ns": now, "caller": supervisor, "method": "aidbridge.v1.AuditService/QueryLedger"}).allow
	d := decide({
		"now_ns": now, "caller": supervisor, "method": "aidbridge.v1.CaseService/RegisterCase",
		"resource": {"kind": "case", "street": "观音桥街道"},
	})
	not d.allow
	"a compliance organisation may not call aidbridge.v1.CaseService/RegisterCase" in d.reasons
}

test_charity_outside_service_area_is_flagged if {
	c := object.union(active_consent, {"recipient_org": "charity-harbour"})
	r := object.union(referral, {"to_org": "charity-harbour", "street": "鱼嘴镇"})
	d := decide(object.union(pull, {"caller": harbour, "consent": c, "resource": r}))
	d.allow
	"outside-service-area" in d.flags
}

test_release_without_a_street_is_flagged_outside_the_service_area if {
	# (object.union merges recursively: the key is removed from the whole input, then set.)
	d := decide(object.union(object.remove(pull, ["resource"]), {"resource": object.remove(referral, ["street"])}))
	d.allow
	"outside-service-area" in d.flags
	count(d.flags) == 1
}

# Without categories a consent names no sensitive category: nothing sensitive leaves.
test_consent_without_categories_releases_no_sensitive_field if {
	d := decide(object.union(object.remove(pull, ["consent"]), {"consent": object.remove(active_consent, ["categories"])}))
	d.allow
	obligations.obligation_of(d.obligations, "health_condition").action == "drop"
	d.obligations.sex.action == "plain"
}

test_age_that_is_not_a_number_fails_closed if {
	d := decide(object.union(pull, {"subject": {"age_years": true, "lacks_capacity": false}}))
	only_reason(d, "the subject's age is unknown: cannot check who may consent")
}

test_denial_always_has_a_reason if {
	d := decide({})
	not d.allow
	count(d.reasons) > 0
}

# The person's access report: compliance for anyone; a government office only for a person
# whose case is in its jurisdiction; never a charity.
report_call(caller, street) := {
	"now_ns": now, "caller": caller, "method": "aidbridge.v1.AuditService/GetAccessReport",
	"resource": {"kind": "case", "id": "case-1", "office_id": "jb-civil-affairs", "street": street},
}

test_access_report_for_compliance if {
	decide(report_call(supervisor, "鱼嘴镇")).allow
}

test_access_report_for_the_office_in_reach if {
	decide(report_call(street_office, "观音桥街道")).allow
}

test_no_access_report_for_an_office_out_of_reach if {
	d := decide(report_call(street_office, "鱼嘴镇"))
	not d.allow
	only_reason(d, no_jurisdiction("鱼嘴镇"))
}

test_no_access_report_for_a_charity if {
	not decide(report_call(sunshine, "观音桥街道")).allow
}

# The export bundle of the ledger (ExportLedger): compliance only, never a charity or an office.
export_call(caller) := {
	"now_ns": now, "caller": caller, "method": "aidbridge.v1.AuditService/ExportLedger",
	"resource": {"kind": "ledger"},
}

test_compliance_exports_the_ledger if {
	decide(export_call(supervisor)).allow
}

test_no_export_for_a_charity if {
	d := decide(export_call(sunshine))
	not d.allow
	only_reason(d, "a charity organisation may not call aidbridge.v1.AuditService/ExportLedger")
}

test_no_export_for_a_government_office if {
	d := decide(export_call(street_office))
	not d.allow
	only_reason(d, "a government organisation may not call aidbridge.v1.AuditService/ExportLedger")
}

# --- referral loop (issue 11): reverse referrals and the event feed -----------------------------

reverse_referral := {
	"kind": "reverse_referral", "id": "rr-1", "from_org": "charity-sunshine",
	"to_org": "jb-civil-affairs", "state": "submitted",
}

reverse_outcome := {
	"now_ns": now, "caller": bureau, "method": "aidbridge.v1.ReferralService/ReportReverseOutcome",
	"resource": object.union(reverse_referral, {"target_state": "opened"}),
}

test_the_receiving_office_opens_or_closes_a_reverse_referral if {
	decide(reverse_outcome).allow
	i := object.union(reverse_outcome, {"resource": object.union(reverse_referral, {"target_state": "closed"})})
	decide(i).allow
	j := object.union(reverse_outcome, {"resource": object.union(reverse_referral, {"target_state": "submitted"})})
	d := decide(j)
	only_reason(d, "the receiving office may set a reverse referral to received, opened or closed, not submitted")
}

test_only_the_receiving_office_answers_a_reverse_referral if {
	d := decide(object.union(reverse_outcome, {"caller": street_office}))
	only_reason(d, "reverse_referral rr-1 was not sent to jb-guanyinqiao-office")
	not decide(object.union(reverse_outcome, {"caller": sunshine})).allow
}

test_both_sides_follow_their_own_referral_events_and_reverse_referrals if {
	some method in ["aidbridge.v1.ReferralService/ListReferralEvents", "aidbridge.v1.ReferralService/ListReverseReferrals"]
	some caller in [bureau, sunshine]
	decide({"now_ns": now, "caller": caller, "method": method, "resource": {"kind": "none"}}).allow
}

test_only_government_resolves_a_charitys_pseudonym if {
	i := {"now_ns": now, "caller": bureau, "method": "aidbridge.v1.ReferralService/ResolvePseudonym", "resource": {"kind": "none"}}
	decide(i).allow
	not decide(object.union(i, {"caller": sunshine})).allow
	not decide(object.union(i, {"caller": supervisor})).allow
}

test_compliance_does_not_follow_referral_events if {
	not decide({
		"now_ns": now, "caller": supervisor, "method": "aidbridge.v1.ReferralService/ListReferralEvents",
		"resource": {"kind": "none"},
	}).allow
}

# --- projects and the linkage report (issue 11) ----------------------------------------------

test_charity_publishes_its_own_project if {
	d := decide({
		"now_ns": now, "caller": sunshine, "method": "aidbridge.v1.ResourceService/PublishProject",
		"resource": {"kind": "project", "id": "p-1", "owner_org": "charity-sunshine"},
	})
	d.allow
}

test_charity_cannot_update_another_charitys_project if {
	d := decide({
		"now_ns": now, "caller": harbour, "method": "aidbridge.v1.ResourceService/PublishProject",
		"resource": {"kind": "project", "id": "p-1", "owner_org": "charity-sunshine"},
	})
	not d.allow
	only_reason(d, "project p-1 does not belong to charity-harbour")
}

test_government_lists_projects if {
	d := decide({
		"now_ns": now, "method": "aidbridge.v1.ResourceService/ListProjects",
		"caller": {"org": "jb-civil-affairs", "role": "government", "actor": "cw-001"},
		"resource": {"kind": "none"},
	})
	d.allow
}

test_charity_cannot_read_the_linkage_report if {
	d := decide({
		"now_ns": now, "caller": sunshine, "method": "aidbridge.v1.ReportService/GetLinkageReport",
		"resource": {"kind": "none"},
	})
	not d.allow
}

# --- the conflict-of-interest register (issue 10) -------------------------------------------

test_charity_declares_a_relationship_for_itself if {
	d := decide({
		"now_ns": now, "caller": sunshine, "method": "aidbridge.v1.IntegrityService/DeclareRelationship",
		"resource": {"kind": "declaration", "id": "", "owner_org": "charity-sunshine"},
	})
	d.allow
	d.obligations == data.aidbridge.disclosures.charity
}

test_charity_cannot_withdraw_another_charitys_declaration if {
	d := decide({
		"now_ns": now, "caller": harbour, "method": "aidbridge.v1.IntegrityService/WithdrawDeclaration",
		"resource": {"kind": "declaration", "id": "decl-1", "owner_org": "charity-sunshine"},
	})
	not d.allow
	only_reason(d, "declaration decl-1 does not belong to charity-harbour")
}
