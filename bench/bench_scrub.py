"""Scrubber benchmark: scrubbed notes/s for realistic notes, beside a baseline in the same run.

The notes are synthetic (``gateway.synthetic.obfuscated_note``): 200-500 characters about one
person, writing their resident id, phones, bank card, street address and names, the numbers in
random obfuscated forms (groups, full-width, Chinese numerals, mixed, zero-width). Each note is
scrubbed with its record's known values (``known_values``), as the transform does.

  * scrubber: ``gateway.privacy.scrub.scrub_narrative`` (normalise, known values, recognisers);
  * baseline: the record's known values removed by one ``str.replace`` pass each, longest first
    (what a scrubber without normalisation or recognisers costs; it misses most obfuscated
    numbers, which is the point of the other).

Run: .venv/bin/python bench/bench_scrub.py [--notes 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gateway.privacy.scrub import KnownValue, known_values, scrub_narrative  # noqa: E402
from gateway.synthetic import obfuscated_note, synthetic_case  # noqa: E402

TODAY = date(2026, 11, 27)
Note = tuple[str, list[KnownValue]]


def workload(count: int, seed: int = 2026) -> list[Note]:
    notes: list[Note] = []
    rng = random.Random(seed)
    for index in range(count):
        case = synthetic_case(seed * 100_000 + index, today=TODAY)
        p = case.person
        record = {
            "name": p.name,
            "resident_id": p.resident_id,
            "phone": p.phone,
            "address": p.address,
            "street": p.street,
            "community": p.community,
            "relatives": [{"name": r.name} for r in case.relatives],
        }
        notes.append((obfuscated_note(case, rng), known_values(record)))
    return notes


def baseline(text: str, known: Sequence[KnownValue]) -> str:
    for value in sorted(known, key=lambda v: len(v.text), reverse=True):
        text = text.replace(value.text, value.tag)
    return text


def rate(scrub: Callable[[str, Sequence[KnownValue]], str], notes: list[Note]) -> float:
    started = time.perf_counter()
    for text, known in notes:
        scrub(text, known)
    return len(notes) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    notes = workload(args.notes)
    lengths = [len(text) for text, _ in notes]
    print(
        f"{len(notes)} notes, {min(lengths)}-{max(lengths)} characters "
        f"(median {statistics.median(lengths):.0f})"
    )
    scrub_narrative(*notes[0])  # warm up: phonenumbers loads its metadata on first use
    results: dict[str, list[float]] = {"scrubber": [], "baseline (str.replace)": []}
    for _ in range(args.rounds):
        results["scrubber"].append(rate(scrub_narrative, notes))
        results["baseline (str.replace)"].append(rate(baseline, notes))
    for name, rates in results.items():
        print(f"{name:<24} {statistics.median(rates):>10,.0f} notes/s (median of {args.rounds})")
    ratio = statistics.median(results["baseline (str.replace)"]) / statistics.median(
        results["scrubber"]
    )
    print(f"the scrubber takes {ratio:,.1f}x the baseline's time per note")
    missed = sum(
        1 for text, known in notes if baseline(text, known) != scrub_narrative(text, known)
    )
    print(f"notes the baseline leaves differently (identifiers it misses): {missed}/{len(notes)}")


if __name__ == "__main__":
    main()
