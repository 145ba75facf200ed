"""Recognisers by structure, on the canonical text: street addresses, e-mail, WeChat and QQ ids.

* A street address is a road (路, 街, 大道, 巷, 弄, 胡同; or a 村, 里, 苑, 小区 or 大厦) and its
  door number (号), then any of
  building (栋, 幢, 座, 号楼), unit (单元), floor (楼, 层) and room (室, or bare digits); or,
  without a road, two or more of those numbered parts (``30栋2单元1906``); or a village group
  (``3组12号``). The record need not know the address: the structure alone is removed.
* E-mail: local part, ``@`` (or ``(at)``, ``[at]``, ``艾特``, `` at ``), a domain with a dot (or
  ``(dot)``, ``[dot]``, ``点``, `` dot ``).
* WeChat ids after 微信 / vx / wx / weixin and the like: a letter, then 5 to 19 letters, digits,
  ``_`` or ``-`` (Tencent's rule for a WeChat id); a number given as the id is a phone number
  and found as one.
* QQ numbers after "QQ": 5 to 11 digits.

The canonical text has ASCII digits for every numeral and lower-case letters, so the patterns
need neither; no pattern uses ``\\b``, which does not separate Chinese from digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gateway.privacy.scrub import tags

_HAN = r"[\u3400-\u9fff]"
# A number in an address: digits (Chinese numerals are digits by now) and 十/百 for 三十栋.
_NUM = r"(?:[0-9十百]{1,6}(?:-[0-9]{1,4}){0,3}[a-z]?)"
_SP = r"[ \-]{0,2}"
# A road's name does not start with the words that introduce an address (家住, 住在, 位于...),
# and does not run back over the district, sub-district or community before it.
_NAME_CHAR = r"(?:(?![区市省县镇乡道社])[\u3400-\u9fff]|[0-9])"
_ROAD = (
    rf"(?:(?![住在于址家到至从往是的和与及]){_NAME_CHAR}{{1,8}}?"
    r"(?:大道|大街|胡同|小区|大厦|路|街|巷|弄|道|村|里|苑))"
)
_DOOR = rf"(?:{_SP}(?:附{_SP})?{_NUM}{_SP}(?:号院|号|弄|巷))"
_UNITS = r"(?:号楼|栋|幢|座|单元|楼|层|室|号|户|门|组|社)"
_PART = rf"(?:{_SP}(?:附{_SP}{_NUM}{_SP}号|{_NUM}{_SP}{_UNITS}|[a-z]{_SP}座))"
_ROOM = r"(?:[ \-]{0,2}[0-9]{2,5}(?![0-9]))"
_ADDRESS = re.compile(
    rf"{_ROAD}{_DOOR}{_PART}*{_ROOM}?"
    rf"|(?<![0-9]){_NUM}{_SP}(?:号楼|栋|幢|座|单元|组|社){_PART}+{_ROOM}?"
    rf"|(?<![0-9]){_NUM}{_SP}(?:号楼|栋|幢){_ROOM}"
)
# What every address above contains: a number (``_NUM``: a digit or 十/百, perhaps a letter after
# it), at most two spaces or dashes, then the first character of a door or a numbered part. A
# text without it has no address, and the costly pattern is not run on it (most notes).
_ADDRESS_ANCHOR = re.compile(r"[0-9十百][a-z]?[ \-]{0,2}[号弄巷栋幢座单组社]")
# "at" and "dot" as words need a space either side ("wang at qq dot com"), so a word that
# merely holds the letters is not one.
_EMAIL = re.compile(
    r"[a-z0-9][a-z0-9._%+\-]{0,63}(?:\s{0,2}(?:@|\(at\)|\[at\]|艾特)\s{0,2}|\s{1,2}at\s{1,2})"
    r"[a-z0-9\-]{1,63}"
    r"(?:(?:\s{0,2}(?:\.|\(dot\)|\[dot\]|点)\s{0,2}|\s{1,2}dot\s{1,2})[a-z0-9\-]{1,63}){1,4}"
)
_WECHAT = re.compile(
    r"(?:微信|威信|薇信|v信|(?<![a-z])(?:vx|wx|weixin|wechat|vchat))"
    r"(?:号|id|帐号|账号)?\s{0,2}(?:[:=是为]\s{0,2})?"
    r"([a-z][a-z0-9_\-]{5,19})(?![a-z0-9_\-])"
)
_QQ = re.compile(r"(?<![a-z])qq(?:号|号码)?\s{0,2}(?:[:=是为]\s{0,2})?([1-9][0-9]{4,10})(?![0-9])")


def find(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, tag)`` in ``text`` (canonical) for every structure recognised."""
    if _ADDRESS_ANCHOR.search(text):
        for found in _ADDRESS.finditer(text):
            yield found.start(), found.end(), tags.ADDRESS
    for found in _EMAIL.finditer(text):
        yield found.start(), found.end(), tags.EMAIL
    for found in _WECHAT.finditer(text):
        yield found.start(1), found.end(1), tags.WECHAT
    for found in _QQ.finditer(text):
        yield found.start(1), found.end(1), tags.QQ
