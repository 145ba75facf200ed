"""The known values of a case record a note must not repeat, each with the tag of what it is.

The subject's name and given name (``[申请人]``), each relative's (``[家属1]``, ``[家属2]``, in the
record's order), the resident id, the phone, the full address and its parts (the street address
after the community or the sub-district, as notes write it), the community (``[社区]``), and
bank cards, e-mail or WeChat ids where the record holds them. A value is tagged by the field it
comes from, never by its shape: a community or an assistance status is not a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from gateway.privacy import generalise
from gateway.privacy.scrub import tags


class KnownValue(NamedTuple):
    text: str
    tag: str


# Record fields holding one identifier each, and their tags.
_IDENTIFIER_FIELDS = (
    ("resident_id", tags.RESIDENT_ID),
    ("phone", tags.MOBILE),
    ("bank_card", tags.BANK_CARD),
    ("email", tags.EMAIL),
    ("wechat", tags.WECHAT),
)
# Shorter than this, a given name alone is too common a pair of characters to remove everywhere.
_MIN_GIVEN_NAME = 2


def known_values(record: Mapping[str, object]) -> list[KnownValue]:
    found: list[KnownValue] = []
    _add_name(found, record.get("name"), tags.SUBJECT)
    relatives = record.get("relatives")
    if isinstance(relatives, list):
        index = 0
        for relative in relatives:
            if isinstance(relative, Mapping):
                index += 1
                _add_name(found, relative.get("name"), tags.relative(index))
                _add(found, relative.get("phone"), tags.MOBILE)
    for field, tag in _IDENTIFIER_FIELDS:
        _add(found, record.get(field), tag)
    for part in address_parts(record):
        _add(found, part, tags.ADDRESS)
    _add(found, record.get("community"), tags.COMMUNITY)
    return found


def address_parts(record: Mapping[str, object]) -> list[str]:
    """The full address, and what follows its community and its sub-district in it: a note that
    names the community writes the rest of the address after it."""
    address = record.get("address")
    if not isinstance(address, str) or not address.strip():
        return []
    address = address.strip()
    parts = [address]
    for field in ("community", "street"):
        marker = record.get(field)
        if isinstance(marker, str) and marker.strip() and marker.strip() in address:
            rest = address.split(marker.strip(), 1)[1].strip()
            if len(rest) >= 3:
                parts.append(rest)
    return parts


def _add_name(found: list[KnownValue], name: object, tag: str) -> None:
    if not isinstance(name, str) or not name.strip():
        return
    name = name.strip()
    found.append(KnownValue(name, tag))
    given = name[len(generalise.surname_of(name)) :]
    if len(given) >= _MIN_GIVEN_NAME:
        found.append(KnownValue(given, tag))


def _add(found: list[KnownValue], value: object, tag: str) -> None:
    if isinstance(value, str) and value.strip():
        found.append(KnownValue(value.strip(), tag))
