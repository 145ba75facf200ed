# AidBridge integrity flags: the seed's named risk, abuse of power and favouritism to relatives
# and friends (以权谋私、优亲厚友).
#
# The gateway looks the acting person up in the conflict-of-interest register and passes what it
# found as `input.conflict`: {declared_relative: bool, relationships: [..]} — whether the person
# the call touches is a declared relative or close relation of the caller's actor. The policy
# turns that into flags written into the call's ledger entry:
#   declared-relative  the call touches a declared relative of the acting person;
#   second-approval    and the method is one (data.json "second_approval_methods") where such a
#                      call needs another actor of the same office to approve it.
#
# And on a denied release (authz.rego `denial_flags`, asked only for a charity calling a method
# that releases case data — a pull, a stream's summary, contact details):
#   pull-without-live-referral  the referral named is not one the caller holds live: sent to
#                      another organisation, or in a state whose summary may not be released
#                      (the summary_release check's states). Such a pull is already denied; the
#                      flag marks the attempt. (A referral id that does not exist names no case:
#                      the gateway answers NOT_FOUND before asking the policy.)
package aidbridge.integrity

import rego.v1

declared_relative if input.conflict.declared_relative == true

flags contains "declared-relative" if declared_relative

flags contains "second-approval" if {
	declared_relative
	input.method in data.aidbridge.second_approval_methods
}

release_attempt_flags contains "pull-without-live-referral" if not holds_live_referral

holds_live_referral if {
	input.resource.kind == "referral"
	input.resource.to_org == input.caller.org
	input.resource.state in data.aidbridge.checks.summary_release.states
}
