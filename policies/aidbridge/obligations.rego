# Obligations: how each field of a case is transformed before it reaches a recipient.
#
# A release lists the fields it releases, each with exactly one obligation, plus "subject",
# always a per-recipient pseudonym. A field the release does not list is dropped (the gateway
# treats a missing obligation as "drop"; listing the drops would cost more than the rest of
# the decision in regopy). A field is released only when the purpose's template for this
# release lists it (data.aidbridge.purposes[p].templates[release]), the consent lists the
# field, and, for a sensitive field, the consent names its category (PIPL Art. 28-29). The
# resident ID is never released: its 18 digits carry region, birth date and sex, and no
# template lists it (data_test.rego).
#
# Actions: plain, pseudonymise, generalise (birth_date "band" in years; street/community
# "level"; monthly_income "line_fen", the local minimum-living line), mask, scrub (free text,
# identifiers removed); "drop" is what a missing field means.
#
# The policy is written for regopy's cost model (each iteration of a comprehension costs tens
# of microseconds): whole-object builtins over tables in data.json instead of loops over the
# catalogue. data_test.rego checks those derived tables against the catalogue.
package aidbridge.obligations

import rego.v1

catalogue_fields := object.keys(data.aidbridge.field_category)

category_of := data.aidbridge.field_category

# The obligations of the fields released (never a drop), for a consent's categories and fields
# given as lists (consent.rego's `categories` and `fields`, which are always lists). The
# categories must be a list: `not category in <undefined>` would be true on regopy and
# undefined on OPA, so a consent without categories would release every sensitive field on OPA.
released(release, categories, fields, purpose) := object.remove(
	object.filter(data.aidbridge.purposes[purpose].templates[release], fields),
	unnamed_sensitive_fields(categories),
)

# Sensitive fields whose category the consent does not name.
unnamed_sensitive_fields(categories) := [field |
	some field
	category := data.aidbridge.sensitive_fields[field]
	not category in categories
]

# A list of the consent, or an empty one when it is absent or not a list.
list_of(consent, key) := value if {
	value := consent[key]
	is_array(value)
} else := []

# The released fields and the subject's pseudonym: what a release hands over.
with_subject(released_obligations) := object.union(released_obligations, subject_pseudonym)

subject_pseudonym := {"subject": {"action": "pseudonymise"}}

# What a release of this consent hands over (for tests and tools: a consent object, its lists
# possibly missing).
for_release(release, consent, purpose) := with_subject(released(
	release,
	list_of(consent, "categories"),
	list_of(consent, "fields"),
	purpose,
))

# The obligation of one field in a release: a field the release does not list is dropped.
obligation_of(obligations, field) := ob if {
	ob := obligations[field]
} else := {"action": "drop"}

# Whether any sensitive field is among the released ones.
releases_sensitive(released_obligations) if {
	count(object.filter(released_obligations, data.aidbridge.sensitive_fields)) > 0
}

# What a call's free text and references become on their way to the caller, by the caller's
# role (data.json "disclosures"; as for a field, a reference not listed is dropped): for a charity every referral note, state-change reason, help
# description and reverse-referral note or reason is scrubbed of the person's identifiers and
# of what its release withholds, the person is its own pseudonym and the office's case id and
# a reverse referral's subject stay behind; an office gets its own records as written. A role
# the table does not list gets the charity's, the strictest.
disclosures_of(role) := d if {
	d := data.aidbridge.disclosures[role]
} else := data.aidbridge.disclosures.charity
