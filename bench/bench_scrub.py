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
from gateway.services import convert  # noqa: E402
from gateway.synthetic import obfuscated_note, synthetic_case  # noqa: E402

TODAY = date(2026, 11, 27)
Note = tuple[str, list[KnownValue]]


def workload(count: int, seed: int = 2026) -> list[Note]:
    notes: list[Note] = []
    rng = random.Random(seed)
    for index in range(count):
        case = synthetic_case(seed * 100_000 + index, today=TODAY)
        length = rng.randint(200, 460)  # a note of 200-500 characters
        known = known_values(convert.case_to_record(case))
        notes.append((obfuscated_note(case, rng, min_length=length), known))
    return notes


def baseline(text: str, known: Sequence[KnownValue]) -> str:
    for value in sorted(known, key=lambda v: len(v.text), reverse=True):
        text = text.replace(value.text, value.tag)
    return text


def rate(
    scrub: Callable[[str, Sequence[KnownValue]], str], notes: list[Note]
) -> tuple[float, float]:
    """Notes/s by the wall clock and by this process's CPU time (on a shared machine the wall
    clock also measures the other processes)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for text, known in notes:
        scrub(text, known)
    return len(notes) / (time.perf_counter() - wall), len(notes) / (time.process_time() - cpu)


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
    results: dict[str, list[tuple[float, float]]] = {"scrubber": [], "baseline (str.replace)": []}
    for _ in range(args.rounds):
        results["scrubber"].append(rate(scrub_narrative, notes))
        results["baseline (str.replace)"].append(rate(baseline, notes))
    medians: dict[str, tuple[float, float]] = {}
    for name, rates in results.items():
        wall = statistics.median(r[0] for r in rates)
        cpu = statistics.median(r[1] for r in rates)
        medians[name] = (wall, cpu)
        print(
            f"{name:<24} {wall:>10,.0f} notes/s wall, {cpu:>10,.0f} notes/s CPU "
            f"(median of {args.rounds})"
        )
    base, ours = medians["baseline (str.replace)"], medians["scrubber"]
    print(
        f"the scrubber takes {base[0] / ours[0]:,.1f}x the baseline's time per note "
        f"({base[1] / ours[1]:,.1f}x by CPU time)"
    )
    missed = sum(
        1 for text, known in notes if baseline(text, known) != scrub_narrative(text, known)
    )
    print(f"notes the baseline leaves differently (identifiers it misses): {missed}/{len(notes)}")


if __name__ == "__main__":
    main()
