"""The person's access report ("who received my data"): from the ledger alone, every release
of one person's data, every withdrawal of their consent and every deletion attestation by a
recipient, each line with its ledger index and an RFC 9162 inclusion proof in a signed (and,
where witnesses are configured, cosigned) checkpoint.

``lines`` builds the report from ledger entries; ``render`` writes it as JSON and as a printable,
self-contained HTML page a caseworker can hand over.
"""
