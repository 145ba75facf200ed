# Tests of holds.rego: the interval of time in which a decision holds.
package aidbridge.holds_test

import rego.v1

import data.aidbridge.authz_test
import data.aidbridge.holds

forever := 9223372036854775807

consent := {"valid_from_ns": 1000, "valid_until_ns": 5000}

interval_at(now, c, s) := i if {
	i := holds.interval with input.now_ns as now
		with input.consent as c
		with input.subject as s
}

test_no_instant_holds_for_ever if {
	i := holds.interval with input.now_ns as 7
	i.from_ns == 0
	i.until_ns == forever
}

test_without_a_clock_holds_nowhere if {
	c := consent
	i := holds.interval with input.consent as c
	i.from_ns == 0
	i.until_ns == 0
}

test_before_the_consent_starts if {
	i := interval_at(999, consent, {})
	i.from_ns == 0
	i.until_ns == 1000
}

test_from_the_start_to_the_expiry if {
	i := interval_at(1000, consent, {})
	i.from_ns == 1000
	i.until_ns == 5000
}

test_last_nanosecond_before_expiry if {
	i := interval_at(4999, consent, {})
	i.from_ns == 1000
	i.until_ns == 5000
}

test_at_expiry_holds_from_it_on if {
	i := interval_at(5000, consent, {})
	i.from_ns == 5000
	i.until_ns == forever
}

test_the_14th_birthday_ends_a_childs_interval if {
	s := {"age_years": 13, "turns_14_ns": 3000, "turns_18_ns": 9000}
	i := interval_at(2999, consent, s)
	i.from_ns == 1000
	i.until_ns == 3000
}

test_from_the_14th_birthday_to_the_18th if {
	s := {"age_years": 14, "turns_14_ns": 3000, "turns_18_ns": 4000}
	i := interval_at(3000, consent, s)
	i.from_ns == 3000
	i.until_ns == 4000
}

test_an_adult_holds_from_the_18th_birthday if {
	s := {"age_years": 40, "turns_14_ns": 10, "turns_18_ns": 2000}
	i := interval_at(4000, consent, s)
	i.from_ns == 2000
	i.until_ns == 5000
}

test_instants_that_are_not_numbers_do_not_count if {
	c := {"valid_from_ns": "yesterday", "valid_until_ns": null}
	i := interval_at(4000, c, {"turns_14_ns": true})
	i.from_ns == 0
	i.until_ns == forever
}

test_a_consent_that_is_not_an_object_does_not_count if {
	i := interval_at(4000, "c-1", 14)
	i.from_ns == 0
	i.until_ns == forever
}

# The decision carries the interval, allowed or denied.
test_the_decision_carries_the_interval if {
	c := consent
	d := authz_test.decide({"now_ns": 6000, "consent": c})
	d.allow == false
	d.holds.from_ns == 5000
	d.holds.until_ns == forever
}

# An active consent in force takes the short way (consent.state_ok): the same interval.
test_a_consent_in_force_holds_from_its_start_to_its_expiry if {
	c := object.union(consent, {"state": "active"})
	i := interval_at(3000, c, {"turns_14_ns": 10, "turns_18_ns": 20})
	i.from_ns == 1000
	i.until_ns == 5000
}

test_a_consent_in_force_and_a_birthday_inside_it if {
	c := object.union(consent, {"state": "active"})
	i := interval_at(3000, c, {"turns_14_ns": 2000, "turns_18_ns": 4000})
	i.from_ns == 2000
	i.until_ns == 4000
}
