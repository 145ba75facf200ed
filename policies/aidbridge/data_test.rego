# Checks of data.json: the derived tables the policy reads match the catalogue they come from,
# and every purpose template stays inside its purpose. Run after any edit of data.json.
package aidbridge.data_test

import rego.v1

test_field_category_matches_categories if {
	derived := {f: c | some c, fields in data.aidbridge.categories; some f in fields}
	derived == data.aidbridge.field_category
}

test_sensitive_fields_match_sensitive_categories if {
	derived := {f: c | some f, c in data.aidbridge.field_category; c in data.aidbridge.sensitive_categories}
	derived == data.aidbridge.sensitive_fields
}

# The policy tests a purpose by its name and a check by its kinds (cheaper in regopy than the
# whole entry), and reads both release templates of every purpose.
test_every_purpose_has_a_name_and_both_templates if {
	bad := [name |
		some name
		purpose := data.aidbridge.purposes[name]
		not purpose_ok(purpose)
	]
	bad == []
}

purpose_ok(purpose) if {
	is_string(purpose.name)
	purpose.name != ""
	is_object(purpose.templates.summary)
	is_object(purpose.templates.contact)
}

test_every_grant_names_a_check_that_lists_its_kinds if {
	bad := [[method, role] |
		some method, role
		name := data.aidbridge.grants[method][role]
		not check_ok(name)
	]
	bad == []
}

# By name, so that a grant naming no check at all is reported (`not f(undefined)` is undefined
# on OPA: the bundle never negates a call whose argument may be undefined).
check_ok(name) if {
	kinds := data.aidbridge.checks[name].kinds
	is_array(kinds)
	count(kinds) > 0
}

test_templates_only_use_their_purposes_categories if {
	outside := [[name, field] |
		some name
		purpose := data.aidbridge.purposes[name]
		some release
		template := purpose.templates[release]
		some field
		template[field]
		not in_purpose(field, purpose)
	]
	outside == []
}

in_purpose(field, purpose) if data.aidbridge.field_category[field] in purpose.categories

test_templates_never_release_the_resident_id_or_list_a_drop if {
	bad := [[name, field] |
		some name, release, field
		ob := data.aidbridge.purposes[name].templates[release][field]
		not_releasable(field, ob)
	]
	bad == []
}

not_releasable("resident_id", _) := true

not_releasable(_, ob) if not releasable_action(ob)

releasable_action(ob) if ob.action in {"plain", "pseudonymise", "generalise", "mask", "scrub"}

test_every_org_has_a_known_role_and_streets_of_the_district if {
	bad := [id |
		some id
		org := data.aidbridge.orgs[id]
		not org_ok(org)
	]
	bad == []
}

org_ok(org) if {
	org.role in {"government", "charity", "compliance"}
	is_array(org.streets)
	every street in org.streets {
		street in data.aidbridge.streets
	}
}
