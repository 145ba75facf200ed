"""Registering an organisation with a gateway: one step instead of an edited JSON file.

A certificate alone lets an organisation do nothing: the policy knows callers by the registry in
the bundle's ``aidbridge/data.json`` (``orgs``: name, role, streets served). ``register_org``
checks a new entry against the catalogue (an organisation id as ``gateway.identity`` accepts
it, a role the registry knows, streets of the district), adds it to the working directory's
bundle (never the repository's ``policies/``), gives the bundle a new revision so every later
decision names the registry it was made under, and the command that calls it ledgers the
registration. The running gateway picks it up on its next policy reload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.identity import ORG_ID

# The roles an organisation of the registry may have (policies/aidbridge/data_test.rego).
REGISTRY_ROLES = ("government", "charity", "compliance")
DATA_FILE = Path("aidbridge") / "data.json"
MANIFEST = ".manifest"
_LOCAL_REVISION = re.compile(r"^(?P<base>.*)\+local\.(?P<n>\d+)$")


class RegistrationError(ValueError):
    """An organisation that cannot be registered as given; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Registration:
    """A checked registration, not yet written: ``write`` makes it."""

    org_id: str
    role: str
    name: str
    streets: tuple[str, ...]
    revision: str  # the bundle's revision once written
    bundle: Path
    _data: dict[str, Any]
    _manifest: dict[str, Any]

    def write(self) -> None:
        _write_json(self.bundle / DATA_FILE, self._data)
        _write_json(self.bundle / MANIFEST, self._manifest)


def registered_org(bundle: Path, org_id: str) -> dict[str, Any] | None:
    """The registry entry of ``org_id`` in ``bundle``, or None."""
    entry = _read_json(bundle / DATA_FILE).get("orgs", {}).get(org_id)
    return entry if isinstance(entry, dict) else None


def plan_registration(
    bundle: Path, org_id: str, role: str, name: str, streets: Sequence[str]
) -> Registration:
    """Check adding ``org_id`` to the registry of the bundle at ``bundle`` (refusing an id
    already there) and return the change; nothing is written until ``write``."""
    data_path, manifest_path = bundle / DATA_FILE, bundle / MANIFEST
    data, manifest = _read_json(data_path), _read_json(manifest_path)
    if not ORG_ID.fullmatch(org_id):
        raise RegistrationError(
            "id",
            f"expected lower-case letters, digits and hyphens, 2-63 long, starting with a letter "
            f"or digit (the pattern {ORG_ID.pattern}), found {org_id!r}",
        )
    if role not in REGISTRY_ROLES:
        raise RegistrationError(
            "role", f"expected one of {', '.join(REGISTRY_ROLES)}, found {role!r}"
        )
    name = name.strip()
    if not name:
        raise RegistrationError("name", "expected the organisation's display name, found none")
    if len(name) > 200:
        raise RegistrationError("name", f"expected at most 200 characters, found {len(name)}")
    known_streets = data.get("streets", [])
    wanted = tuple(dict.fromkeys(s.strip() for s in streets if s.strip()))
    if not wanted:
        raise RegistrationError("streets", "expected at least one street the organisation serves")
    unknown = [s for s in wanted if s not in known_streets]
    if unknown:
        raise RegistrationError(
            "streets",
            f"not streets of the catalogue: {', '.join(unknown)} "
            f"(known: {', '.join(known_streets)})",
        )
    orgs = data.setdefault("orgs", {})
    if org_id in orgs:
        raise RegistrationError("id", f"{org_id!r} is already registered in {data_path}")
    orgs[org_id] = {"name": name, "role": role, "streets": list(wanted)}
    manifest["revision"] = _next_revision(str(manifest.get("revision", "")))
    return Registration(org_id, role, name, wanted, manifest["revision"], bundle, data, manifest)


def _next_revision(revision: str) -> str:
    # A local change to a released bundle: <released revision>+local.<n>.
    match = _LOCAL_REVISION.match(revision)
    if match:
        return f"{match['base']}+local.{int(match['n']) + 1}"
    return f"{revision or 'unversioned'}+local.1"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistrationError("bundle", f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise RegistrationError("bundle", f"{path} is not a JSON object")
    return document


def _write_json(path: Path, document: dict[str, Any]) -> None:
    # Write beside and rename, so a crash never leaves a half-written registry.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
