"""Privacy transforms (DESIGN.md "Privacy transforms"): per-recipient pseudonyms, generalisation
of quasi-identifiers, scrubbing of free-text narratives, the application of a policy's
obligations to a case record, and encryption of personal data at rest."""
