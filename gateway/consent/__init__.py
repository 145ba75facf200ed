"""The consent domain (DESIGN.md "Consent", issue #3): separate consent per subject × recipient ×
purpose after PIPL, signed records, lifecycle events, withdrawal duties and receipts.

``model`` holds the values, ``validate`` the rules a draft must meet, ``signing`` the canonical
record and its Ed25519 signature, ``repository`` the store operations, ``receipts`` the
person's verifiable receipt. No grpc here: ``gateway.services.consents`` translates.
"""
