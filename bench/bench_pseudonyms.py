"""Pseudonym issue and resolution with rotating key versions.

Issue (best of three, alternated): ``pseudonym_for`` on a ring loaded from a working directory,
which checks ``key-versions.json`` for a rotation before each pseudonym (one ``stat``), beside
the baseline of a ring whose version is fixed in memory (no check), in the same run.

Resolve: ``resolve_pseudonym`` of the last of ``--candidates`` subjects (the bureau's referrals
to one charity), a k1 pseudonym after a rotation to k2, one HMAC per candidate.

    .venv/bin/python bench/bench_pseudonyms.py [--n 100000] [--candidates 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gateway.keys import KeyRing
from gateway.privacy.pseudonyms import pseudonym_for, resolve_pseudonym
from gateway.synthetic import synthetic_cases


def _rate(n: int, run) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=2_000)
    args = parser.parse_args()
    people = [c.person.resident_id for c in synthetic_cases(args.candidates, seed=3)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "master.key"
        KeyRing.generate(path)
        filed = KeyRing.load(path)
        filed.versions.rotate(at_ns=1)
        fixed = KeyRing(path.read_bytes(), version="k2")
        ids = [people[i % len(people)] for i in range(args.n)]

        def issue(keys: KeyRing):  # type: ignore[no-untyped-def]
            return lambda: [pseudonym_for(keys, "charity-a", rid) for rid in ids]

        # Alternated, best of three each: the first pass pays key derivation and warm-up.
        base = versioned = 0.0
        for _ in range(3):
            base = max(base, _rate(args.n, issue(fixed)))
            versioned = max(versioned, _rate(args.n, issue(filed)))
        print(f"issue, version fixed in memory:    {base:12,.0f} pseudonyms/s")
        print(f"issue, versions file checked:      {versioned:12,.0f} pseudonyms/s")
        print(f"ratio (checked / fixed):           {versioned / base:12.2f}")

        old = pseudonym_for(filed, "charity-a", people[-1], "k1")
        candidates = [(rid, rid) for rid in people]
        rounds = 20
        per_s = _rate(
            rounds,
            lambda: [resolve_pseudonym(filed, "charity-a", old, candidates) for _ in range(rounds)],
        )
        print(
            f"resolve, k1 after rotation, {len(people):,} candidates: "
            f"{per_s:,.0f} resolutions/s ({1000 / per_s:.1f} ms each)"
        )


if __name__ == "__main__":
    main()
