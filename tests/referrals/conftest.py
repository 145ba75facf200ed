"""Fixtures of the referral-loop tests."""

from tests.referrals.loop import loop_gw

__all__ = ["loop_gw"]
