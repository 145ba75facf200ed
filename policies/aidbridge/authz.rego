# AidBridge authorisation: who may call which RPC, on which resource.
#
# The gateway asks `data.aidbridge.authz.decision` on every call and enforces the answer:
#   {"allow": bool, "reasons": [..], "flags": [..], "obligations": {field: {"action": ..}},
#    "holds": {"from_ns": .., "until_ns": ..}}
# (the obligations of an allowed call name its free text and references too: disclosures_of)
# `holds` is the interval of time in which the same input (but for now_ns) gets the same
# decision (holds.rego); the gateway may reuse a decision only inside it.
# A call is allowed only when (1) the caller's organisation is registered (data.json "orgs")
# with the role the call claims, (2) the grants table (data.json "grants": method -> role ->
# check) lets that role call the method, (3) the named check (data.json "checks") passes on the
# resource and, for a release of case data, (4) the consent rules in consent.rego pass.
# Anything else is a denial with human-readable reasons. An allowed release lists the fields
# it releases and the subject's pseudonym; a field it does not list is dropped. An allowed call
# that releases nothing names instead what its free text and references become.
#
# A check in data.json says, each part optional:
#   kinds: the resource kinds it accepts ("none" for calls naming no resource, e.g. lists the
#          service scopes to the caller); party: the resource field that must be the caller
#          (from_org, to_org, owner_org); jurisdiction: the case's street is in the caller's
#          jurisdiction (registry streets; no street, no reach); states / target_states: the states
#          the referral may be in / set; recipient_role: the role the resource's to_org must have;
#          consent_names_recipient: a consent already names that recipient; release: the case
#          data it releases (summary or contact), which brings in the consent rules.
#
# Input (all times integer nanoseconds since the epoch, UTC):
#   now_ns, caller {org, role, actor}, method, purpose, release ("summary" | "contact" | absent),
#   resource {kind, id, office_id, from_org, to_org, owner_org, state, target_state, street},
#   subject {age_years, lacks_capacity, turns_14_ns, turns_18_ns}, consent {...} (see
#   consent.rego); the subject's birthdays bound the interval of the decision (holds.rego).
#
# Written for regopy's cost model (README, "Writing Rego that both engines accept"): every
# statement costs microseconds, so each value is a rule computed once, each part of a check is
# one test, and the rules that explain a denial run only when the call is denied. It means the
# same on OPA: no `not` wraps a call whose argument may be undefined (README, same section).
package aidbridge.authz

import rego.v1

import data.aidbridge.consent
import data.aidbridge.holds
import data.aidbridge.integrity
import data.aidbridge.obligations

# ---------------------------------------------------------------------------------------------
# The decision.
# ---------------------------------------------------------------------------------------------
# `fast_allow` states every condition positively in one place; the problem rules
# (`deny_reasons`) run only to explain a denial. tests/policy checks on every row of the
# decision table and on random input that both agree.
decision := allowed if {
	fast_allow
} else := denied

allow := decision.allow

allowed := {
	"allow": true,
	"reasons": [],
	"flags": flags,
	"obligations": call_obligations,
	"holds": holds.interval,
}

denied := {
	"allow": false,
	"reasons": sort(denial_reasons),
	"flags": sort(denial_flags),
	"obligations": {},
	"holds": holds.interval,
}

# A denied call is flagged only where the attempt itself is what supervision should see: a
# charity asking for case data through a referral it does not hold live (integrity.rego).
denial_flags := integrity.release_attempt_flags if {
	release
	role_matches
} else := set()

fast_allow if {
	role_matches
	requested_release == check_release
	resource_ok
	release_consent_ok
}

# A denial always says why, even when no specific rule explains it.
denial_reasons := deny_reasons if {
	count(deny_reasons) > 0
} else := {"no rule permits this caller to call this method"}

# What an allowed call hands over. A release: the fields released with their transforms, and
# the subject's pseudonym (it sends no free text but the case narrative, a released field). Any
# other call: what its free text and references become for this caller
# (obligations.disclosures_of) — the gateway sends no note, reason or case id but through them.
# (One or the other, not their union: object.union doubles a release decision's cost in regopy.)
call_obligations := obligations.with_subject(released) if {
	release
} else := obligations.disclosures_of(input.caller.role)

released := obligations.released(release, consent.categories, consent.fields, input.purpose)

# ---------------------------------------------------------------------------------------------
# Who is calling, and what the grants table lets them do.
# ---------------------------------------------------------------------------------------------
caller_org := o if {
	o := input.caller.org
	is_string(o)
} else := "(no organisation)"

method := m if {
	m := input.method
	is_string(m)
} else := "(no method)"

org := data.aidbridge.orgs[caller_org]

# Every registered organisation has a role (data_test.rego), so this is "the caller is
# registered" without comparing the whole registry entry.
registered if org.role

role_matches if org.role == input.caller.role

granted if data.aidbridge.grants[method]

check_name := data.aidbridge.grants[method][input.caller.role]

check := data.aidbridge.checks[check_name]

release := check.release

deny_reasons contains msg if {
	not registered
	msg := sprintf("unknown organisation %s: not in the registry", [caller_org])
}

deny_reasons contains msg if {
	registered
	not role_matches
	msg := sprintf(
		"role mismatch: %s is registered as %s, the call claims %v",
		[caller_org, org.role, claimed_role],
	)
}

deny_reasons contains msg if {
	not granted
	msg := sprintf("unknown method %s", [method])
}

deny_reasons contains msg if {
	granted
	role_matches
	not check_name
	msg := sprintf("a %s organisation may not call %s", [org.role, method])
}

deny_reasons contains msg if {
	check_name
	not check.kinds
	msg := sprintf("policy error: the grants table names an unknown check %s", [check_name])
}

deny_reasons contains msg if {
	role_matches
	some msg in resource_problems
}

deny_reasons contains msg if {
	role_matches
	release
	some msg in consent.problems(release)
}

# The service states what it is about to release; it must be what the method releases.
requested_release := r if {
	r := input.release
	is_string(r)
} else := "nothing"

check_release := r if {
	r := check.release
} else := "nothing" if check.kinds

deny_reasons contains msg if {
	check_release == "nothing"
	requested_release != "nothing"
	msg := sprintf("%s releases no case data, the call asks to release %s", [method, requested_release])
}

deny_reasons contains msg if {
	check_release != "nothing"
	requested_release != check_release
	msg := sprintf("%s releases %s, the call says %s", [method, check_release, requested_release])
}

# ---------------------------------------------------------------------------------------------
# The resource checks named in data.json "checks".
# ---------------------------------------------------------------------------------------------
resource := r if {
	r := input.resource
	is_object(r)
} else := {}

resource_kind := k if {
	k := resource.kind
	is_string(k)
} else := "none"

# Every part of the check, positively. Each part that does not apply costs one test: it is
# written with `else`, because a rule with two definitions has both bodies evaluated.
resource_ok if {
	kind_accepted
	party_ok
	jurisdiction_ok
	state_ok
	target_state_ok
	recipient_role_ok
	referral_consent_ok
}

kind_accepted if resource_kind in check.kinds

party_ok := true if {
	not check.party
} else := true if {
	resource[check.party] == caller_org
}

jurisdiction_ok := true if {
	not check.jurisdiction
} else := true if {
	in_area
}

# The resource's street is among the caller's streets in the registry: for a government
# office, its jurisdiction (a case, or a consent or referral about it); for a charity, its
# service area. Having registered a case gives no reach beyond
# that: an office cannot register a case outside its area in the first place.
in_area if resource.street in org.streets

state_ok := true if {
	not check.states
} else := true if {
	resource.state in check.states
}

target_state_ok := true if {
	not check.target_states
} else := true if {
	resource.target_state in check.target_states
}

recipient_role_ok := true if {
	not check.recipient_role
} else := true if {
	data.aidbridge.orgs[resource.to_org].role == check.recipient_role
}

# No personal data leaves before a consent names the recipient: a referral needs one already.
referral_consent_ok := true if {
	not check.consent_names_recipient
} else := true if {
	consent.referral_ok
}

release_consent_ok := true if {
	not release
} else := true if {
	consent.release_ok(release)
}

# The problems, one reason each; computed only when the positive check above fails.
resource_problems := set() if {
	resource_ok
} else := resource_problems_found

resource_problems_found contains msg if {
	check.kinds
	not kind_accepted
	# (Not concat(" or ", check.kinds): regopy 1.5.2 leaves a lone element's quotes in place.)
	msg := sprintf("%s does not take a %s resource", [method, resource_kind])
}

resource_problems_found contains msg if {
	not party_ok
	msg := sprintf(data.aidbridge.party_messages[check.party], [resource_kind, resource_id, caller_org])
}

resource_problems_found contains msg if {
	not jurisdiction_ok
	msg := sprintf("%s has no jurisdiction over street %v", [caller_org, resource_street])
}

resource_problems_found contains msg if {
	not state_ok
	msg := sprintf(check.state_message, [resource_id, resource_state])
}

resource_problems_found contains msg if {
	not target_state_ok
	msg := sprintf(check.target_message, [resource_target_state])
}

resource_problems_found contains msg if {
	not recipient_role_ok
	msg := sprintf("%v is not a registered %s", [resource_to_org, check.recipient_role])
}

resource_problems_found contains msg if {
	check.consent_names_recipient
	some msg in consent.referral_problems
}

# Texts for the reasons. (Not object.get with a default: regopy 1.5.2 keeps the quotes of such
# a default, so sprintf would print "(none)" with its quotes, and the output is not JSON.)
resource_id := i if {
	i := resource.id
	is_string(i)
	i != ""
} else := "(new)"

resource_street := t if {
	t := resource.street
	is_string(t)
} else := "(none given)"

resource_state := t if {
	t := resource.state
	is_string(t)
} else := "in no state"

resource_target_state := t if {
	t := resource.target_state
	is_string(t)
} else := "(none)"

resource_to_org := t if {
	t := resource.to_org
	is_string(t)
} else := "(no recipient)"

claimed_role := t if {
	t := input.caller.role
	is_string(t)
} else := "(none)"

# ---------------------------------------------------------------------------------------------
# Flags: allowed, but someone should look.
# ---------------------------------------------------------------------------------------------
flags := sort(release_flags | integrity.flags) if {
	release
} else := sort(integrity.flags)

# A release naming no street is flagged too: nobody can tell it is inside the service area.
release_flags contains "outside-service-area" if not in_area

release_flags contains "guardian-consent" if input.consent.grantor_kind == "guardian"

release_flags contains "needs-second-approver" if {
	consent.subject_is_minor
	obligations.releases_sensitive(released)
}
