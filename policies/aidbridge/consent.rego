# Consent rules for every release of case data (PIPL Art. 14, 23, 28-31).
#
# A charity receives a summary or contact details only under a consent that is active, inside
# its validity at the time of the call, names the calling charity as its recipient, is for the
# purpose of the call, and was given by the right person: a guardian for a subject under 14 or
# an adult who lacks capacity, the person themself otherwise. Data of a subject under 18 also
# needs the minors_data category named. Contact details need the contact category.
#
# Input consent: {consent_id, version, state, recipient_org, purpose, categories, fields,
#   valid_from_ns, valid_until_ns, grantor_kind ("subject" | "guardian"), access_mode}.
# Times are integer nanoseconds: regopy 1.5.2's time.parse_rfc3339_ns returns undefined for a
# valid timestamp, so the policy never parses time strings.
package aidbridge.consent

import rego.v1

# Age below which a guardian must consent (PIPL Art. 31), and the age of majority.
guardian_age := 14

adult_age := 18

# --- the fast path: every rule at once, positively --------------------------------------------
# The decision asks these first; the problem rules below run only to explain a denial. Both
# must agree (tests/policy checks it on every row of the decision table and on random input).
release_ok(release) if {
	in_force(caller_org)
	subject_ok
	contact_ok(release)
}

referral_ok if in_force(referral_recipient)

in_force(recipient) if {
	state_ok
	purpose_ok
	the_consent.recipient_org == recipient
}

# Active, and inside its validity now: from valid_from_ns up to, not including, valid_until_ns.
state_ok if {
	c := the_consent
	c.state == "active"
	from := c.valid_from_ns
	until := c.valid_until_ns
	is_number(from)
	is_number(until)
	until > 0
	from <= now
	now < until
}

purpose_ok if {
	the_consent.purpose == input.purpose
	known_purpose
}

# Every purpose has a name (data_test.rego): testing it is cheaper than the whole entry.
known_purpose if data.aidbridge.purposes[input.purpose].name

# Given by the right person, and naming minors' data for a minor.
subject_ok if {
	age_known
	the_consent.grantor_kind == expected_grantor
	minors_data_ok
}

expected_grantor := "guardian" if {
	needs_guardian
} else := "subject"

minors_data_ok := true if {
	not subject_is_minor
} else := true if {
	names_minors_data
}

contact_ok("summary") := true

contact_ok("contact") if names_contact

# --- the problems, one reason each --------------------------------------------------------------
the_consent := c if {
	c := input.consent
	is_object(c)
}

# Whether there is a consent at all (cheaper than testing the_consent, a whole object).
has_consent if is_object(input.consent)

subject := s if {
	s := input.subject
	is_object(s)
}

now := n if {
	n := input.now_ns
	is_number(n)
}

# The subject's age, only when it is a number: OPA orders values of different types (a boolean
# is "less than" 14 there), regopy does not compare them at all.
age := a if {
	a := subject.age_years
	is_number(a)
}

age_known if is_number(age)

# The consent's lists, always arrays (empty when absent or not a list), so that no `not x in
# y` below ever meets an undefined `y`: OPA makes such a `not` undefined, regopy true.
categories := c if {
	c := the_consent.categories
	is_array(c)
} else := []

fields := f if {
	f := the_consent.fields
	is_array(f)
} else := []

names_minors_data if "minors_data" in categories

names_contact if "contact" in categories

# The organisations a consent must name, always defined (text for the reasons otherwise).
caller_org := o if {
	o := input.caller.org
	is_string(o)
} else := "(no organisation)"

referral_recipient := o if {
	o := input.resource.to_org
	is_string(o)
} else := "(no recipient)"

# The problems that stop a release; empty means the consent covers it.
problems(release) := common_problems if release == "summary"

problems(release) := common_problems | contact_problems if release == "contact"

# The problems that stop a government office from referring a case to a charity.
referral_problems := state_problems | purpose_problems | recipient_problems(referral_recipient)

common_problems := (state_problems | purpose_problems | recipient_problems(caller_org)) | subject_problems

# Each group of problems is looked for only when its positive rule above fails (a rule costs
# tens of microseconds, and a denial has usually one cause); `*_found` are the problems.
state_problems := set() if state_ok else := state_problems_found

purpose_problems := set() if purpose_ok else := purpose_problems_found

subject_problems := set() if subject_ok else := subject_problems_found

# --- the consent exists, is active and is in force now ----------------------------------------
state_problems_found contains "no consent was given for this release" if not has_consent

state_problems_found contains "the call's time (now_ns) is missing" if not now

state_known if the_consent.state in {"active", "expired"}

state_problems_found contains msg if {
	has_consent
	not state_known
	msg := sprintf("consent %s is %s, not active", [consent_id_text, consent_state_text])
}

state_problems_found contains "consent expired" if the_consent.state == "expired"

state_problems_found contains "consent expired" if {
	has_expiry
	now >= the_consent.valid_until_ns
}

state_problems_found contains "consent is not yet valid" if {
	is_number(the_consent.valid_from_ns)
	now < the_consent.valid_from_ns
}

# No "forever": a consent without an expiry is not in force.
has_expiry if {
	is_number(the_consent.valid_until_ns)
	the_consent.valid_until_ns > 0
}

state_problems_found contains "consent has no expiry date" if {
	has_consent
	not has_expiry
}

has_start if is_number(the_consent.valid_from_ns)

state_problems_found contains "consent has no start date" if {
	has_consent
	not has_start
}

# Texts for the reasons, as rules (see authz.rego on regopy's sprintf).
consent_id_text := t if {
	t := the_consent.consent_id
	is_string(t)
} else := "(no id)"

consent_state_text := t if {
	t := the_consent.state
	is_string(t)
} else := "in no state"

consent_purpose_text := t if {
	t := the_consent.purpose
	is_string(t)
} else := "(none)"

purpose_text := t if {
	t := input.purpose
	is_string(t)
} else := "(none)"

grantor_text := t if {
	t := the_consent.grantor_kind
	is_string(t)
} else := "none"

# --- for this purpose and this recipient -------------------------------------------------------
purpose_problems_found contains msg if {
	not known_purpose
	msg := sprintf("purpose %v is not in the catalogue", [purpose_text])
}

consent_purpose_matches if the_consent.purpose == input.purpose

purpose_problems_found contains msg if {
	has_consent
	not consent_purpose_matches
	msg := sprintf("consent is for purpose %v, the call is for %v", [consent_purpose_text, purpose_text])
}

names_recipient(org) if the_consent.recipient_org == org

recipient_problems(org) := {msg |
	has_consent
	not names_recipient(org)
	msg := sprintf("no active consent names %v as recipient", [org])
}

# --- given by the right person ----------------------------------------------------------------
needs_guardian := true if {
	age < guardian_age
} else := true if {
	subject.lacks_capacity == true
}

subject_is_minor if age < adult_age

grantor := g if {
	g := the_consent.grantor_kind
	g in {"subject", "guardian"}
}

subject_problems_found contains "the subject's age is unknown: cannot check who may consent" if {
	not age_known
}

subject_problems_found contains msg if {
	has_consent
	not grantor
	msg := sprintf("consent names no valid grantor (found %v)", [grantor_text])
}

subject_problems_found contains "guardian consent required: subject is under 14" if {
	age < guardian_age
	grantor != "guardian"
}

subject_problems_found contains "guardian consent required: subject lacks capacity" if {
	subject.lacks_capacity == true
	grantor != "guardian"
}

subject_problems_found contains msg if {
	age_known
	not needs_guardian
	grantor == "guardian"
	msg := "guardian consent lapsed: subject is now 14 or older; record the person's own consent"
}

subject_problems_found contains "a subject under 18: the consent must name the minors_data category" if {
	subject_is_minor
	not names_minors_data
}

# --- contact details ---------------------------------------------------------------------------
contact_problems contains "consent does not cover contact details" if not names_contact
