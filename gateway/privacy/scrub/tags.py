"""The tags that stand in a scrubbed note for what was removed: each says what it was.

A tag names a kind, never a value, and contains nothing a recogniser matches (no digit next to a
separator, no address unit), so scrubbing a scrubbed note changes nothing.
"""

from __future__ import annotations

SUBJECT = "[申请人]"
RESIDENT_ID = "[身份证号]"
MOBILE = "[手机号]"
LANDLINE = "[电话号码]"
BANK_CARD = "[银行卡号]"
ADDRESS = "[地址]"
COMMUNITY = "[社区]"
EMAIL = "[邮箱]"
WECHAT = "[微信号]"
QQ = "[QQ号]"
UNPLACED_NUMBER = "[号码]"  # a long number none of the recognisers could place: removed in doubt
REDACTED = "[已隐去]"  # a known value of no more specific kind


def relative(index: int) -> str:
    """The tag of the record's ``index``-th relative (from 1), as the record lists them."""
    return f"[家属{index}]"
