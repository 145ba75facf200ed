# Obligations: how each field of a case is transformed before it reaches a recipient.
#
# For every release, every field of the catalogue gets exactly one obligation, plus "subject",
# always a per-recipient pseudonym. A field is released only when the purpose's template for
# this release lists it (data.aidbridge.purposes[p].templates[release]; a field a template does
# not list is dropped), the consent lists the field, and, for a sensitive field, the consent
# names its category (PIPL Art. 28-29). The resident ID is never released: its 18 digits carry
# region, birth date and sex.
#
# Actions: plain, pseudonymise, generalise (birth_date "band" in years; street/community
# "level"; monthly_income "line_fen", the local minimum-living line), mask, drop, scrub
# (free text, identifiers removed).
#
# The policy is written for regopy's cost model (each iteration of a comprehension costs tens
# of microseconds): whole-object builtins over tables in data.json instead of loops over the
# catalogue. data_test.rego checks those derived tables against the catalogue.
package aidbridge.obligations

import rego.v1

catalogue_fields := object.keys(data.aidbridge.field_category)

category_of := data.aidbridge.field_category

# The obligations of the fields released (never a drop); the rest are dropped by for_release.
released(release, consent, purpose) := object.remove(
	object.filter(data.aidbridge.purposes[purpose].templates[release], consent.fields),
	unnamed_sensitive_fields(consent),
)

# Sensitive fields whose category the consent does not name.
unnamed_sensitive_fields(consent) := [field |
	some field
	category := data.aidbridge.sensitive_fields[field]
	not category in consent.categories
]

# Every catalogue field and the subject, each with its obligation.
complete(released_obligations) := object.union(data.aidbridge.nothing_released, released_obligations)

for_release(release, consent, purpose) := complete(released(release, consent, purpose))

# Whether any sensitive field is among the released ones.
releases_sensitive(released_obligations) if {
	count(object.filter(released_obligations, object.keys(data.aidbridge.sensitive_fields))) > 0
}
