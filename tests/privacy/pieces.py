"""What a reader putting the pieces of a number together reads: the digits of a text joined
over the few words between them ("138，中间1234，后四位5678"), for the scrubber's tests and the
leak scan to look for identifiers in."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gateway.privacy.scrub import numbers

_DIGITS = re.compile(r"[0-9x]+")
_IDEOGRAPH = re.compile(r"[\u4e00-\u9fff]")
# A run this short between two pieces may be a numeral of the words ("后四位" reads 后4位).
_SHORT = 2


def pieces_joined(text: str) -> Iterator[str]:
    """For each chain of digit runs of ``text`` (canonical: digits in ASCII) no more than
    ``numbers._MOST_BETWEEN`` characters apart, with a Chinese character between each two (so
    that bytes of a serialised message are not taken for words), the chain's digits joined,
    once with its short runs and once without them."""
    chain: list[str] = []
    end = 0
    for run in _DIGITS.finditer(text):
        apart = run.start() - end
        if chain and (
            apart > numbers._MOST_BETWEEN or not _IDEOGRAPH.search(text, end, run.start())
        ):
            yield from _joined(chain)
            chain = []
        chain.append(run.group())
        end = run.end()
    yield from _joined(chain)


def _joined(chain: list[str]) -> Iterator[str]:
    if len(chain) > 1:
        yield "".join(chain)
        yield "".join(piece for piece in chain if len(piece) > _SHORT)
