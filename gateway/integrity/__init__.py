"""Integrity against the seed's named risk (以权谋私、优亲厚友): the conflict-of-interest
register (``register``) that lets an exchange touching a declared relative be flagged."""
