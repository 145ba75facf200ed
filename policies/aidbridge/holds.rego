# The interval of time in which a decision holds: every answer says from when until when the
# same input (all of it except `now_ns`) gets the same answer, so the gateway may reuse it
# inside that interval without asking again (gateway/policy/cache.py).
#
# A decision depends on the time of the call only through comparisons of `now_ns` with the
# instants in its input (consent.rego, and the subject's birthdays the gateway computes the
# age from):
#   consent.valid_from_ns   the consent comes into force (from <= now)
#   consent.valid_until_ns  the consent expires (now < until)
#   subject.turns_14_ns     the subject turns 14: from then a guardian's consent has lapsed
#   subject.turns_18_ns     the subject turns 18: minors' data rules and flags end
# Each such instant `t` splits time in two: before it (now < t) and from it on (now >= t).
# The decision holds from the latest instant at or before now to the earliest one after it:
# [from_ns, until_ns), `until_ns` excluded. With none on either side the interval is open
# there: from 0 (the epoch), until 2^63 - 1. A call without a number for now_ns holds nowhere
# ({0, 0}: never reused). Every instant in the input counts, whether or not the rules that
# decided this call looked at it: a narrower interval only costs a fresh evaluation.
package aidbridge.holds

import rego.v1

import data.aidbridge.consent

# The largest instant a 64-bit nanosecond clock can give: "no end".
forever := 9223372036854775807

now := n if {
	n := input.now_ns
	is_number(n)
}

# Each instant's bound: from an instant at or before now, until one after it; 0 / forever when
# the input has no such number. Written out per instant, without comprehensions, sort, max or
# min: regopy 1.5.2 compares max()'s and min()'s numbers as text (min({10, 7}) is 10), cannot
# index the array sort() returns, and each comprehension iteration costs tens of microseconds.
# Each function call here costs some 30 µs on regopy: the consent in force, the common case,
# takes none (bench/bench_policy.py measures the whole decision).
interval := {"from_ns": from, "until_ns": until} if {
	now
} else := {"from_ns": 0, "until_ns": 0}

from := later(consent_since, later(from_of(turns_14), from_of(turns_18)))

until := earlier(consent_before, earlier(until_of(turns_14), until_of(turns_18)))

# A consent in force now (consent.rego's state_ok, which the decision computes anyway) holds
# from its start to its expiry; otherwise each of its instants counts on its own.
consent_since := input.consent.valid_from_ns if {
	consent.state_ok
} else := later(from_of(consent_from), from_of(consent_until))

consent_before := input.consent.valid_until_ns if {
	consent.state_ok
} else := earlier(until_of(consent_from), until_of(consent_until))

# The instants, null when absent (a function of an undefined argument is undefined).
consent_from := t if t := input.consent.valid_from_ns else := null

consent_until := t if t := input.consent.valid_until_ns else := null

turns_14 := t if t := input.subject.turns_14_ns else := null

turns_18 := t if t := input.subject.turns_18_ns else := null

# An instant's lower bound (itself, if it is not after now) and upper bound (itself, if it is).
from_of(t) := t if {
	is_number(t)
	t <= now
} else := 0

until_of(t) := t if {
	is_number(t)
	t > now
} else := forever

later(a, b) := a if a > b else := b

earlier(a, b) := a if a < b else := b
