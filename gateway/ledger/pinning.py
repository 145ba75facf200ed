"""Which verifier key a ledger verification trusts, and whether the verifier pinned it.

The work directory holds the ledger's verifier key (``keys/checkpoint.vkey``), but whoever can
rewrite the store may be able to rewrite that file too, re-signing every checkpoint under a key
of their own. So the officer pins the key they trust, either whole (the C2SP vkey string) or by
the fingerprint ``aidbridge init`` printed (``checkpoint.vkey_fingerprint``), and a key that
differs from the pin is refused before anything is verified. With no pin the work directory's
key is used, and the caller says so plainly.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import InvalidArgument
from gateway.ledger.checkpoint import CheckpointError, parse_verifier_key, vkey_fingerprint


class KeyPinError(InvalidArgument):
    """The verifier key to trust is malformed or differs from the pinned one."""


@dataclass(frozen=True)
class TrustedKey:
    vkey: str
    fingerprint: str
    pinned_by: str  # "" if not pinned, else the option that pinned it


def normalise_fingerprint(text: str) -> str:
    value = text.strip().lower().removeprefix("sha256:").replace(":", "")
    if len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
        raise KeyPinError(
            f"expected a fingerprint of 64 hex digits, found {text.strip()!r}", field="fingerprint"
        )
    return value


def trusted_key(
    work_vkey: str | None, *, pinned_vkey: str | None = None, pinned_fingerprint: str | None = None
) -> TrustedKey:
    """The key to verify with: the pinned one if any (the work directory's key must then be the
    same), else the work directory's key, unpinned. Raises KeyPinError naming the mismatch."""
    work = _parsed(work_vkey, "the work directory's verifier key") if work_vkey else None
    want_fp = normalise_fingerprint(pinned_fingerprint) if pinned_fingerprint else None
    if pinned_vkey:
        pinned = _parsed(pinned_vkey, "vkey")
        fingerprint = vkey_fingerprint(pinned)
        if want_fp is not None and want_fp != fingerprint:
            raise KeyPinError(
                f"the pinned key has fingerprint {fingerprint}, not the pinned fingerprint "
                f"{want_fp}",
                field="fingerprint",
            )
        if work is not None and vkey_fingerprint(work) != fingerprint:
            raise KeyPinError(
                f"the work directory's verifier key (fingerprint {vkey_fingerprint(work)}) is "
                f"not the pinned key (fingerprint {fingerprint}): refusing to verify",
                field="vkey",
            )
        return TrustedKey(pinned, fingerprint, "--vkey")
    if work is None:
        raise KeyPinError("expected a verifier key: pass --vkey", field="vkey")
    fingerprint = vkey_fingerprint(work)
    if want_fp is not None:
        if want_fp != fingerprint:
            raise KeyPinError(
                f"the work directory's verifier key has fingerprint {fingerprint}, not the "
                f"pinned {want_fp}: refusing to verify",
                field="fingerprint",
            )
        return TrustedKey(work, fingerprint, "--fingerprint")
    return TrustedKey(work, fingerprint, "")


def _parsed(vkey: str, what: str) -> str:
    text = vkey.strip()
    try:
        parse_verifier_key(text)
    except CheckpointError as exc:
        raise KeyPinError(f"{what}: {exc.message}", field="vkey") from exc
    return text
