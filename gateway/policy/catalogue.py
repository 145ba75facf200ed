"""The bundle's catalogue as Python: organisations, purposes, data categories and fields.

Reads ``<bundle>/aidbridge/data.json``, the same document the Rego policy reads as
``data.aidbridge``, so the consent code validates purposes, categories, fields and recipients
against exactly what the policy enforces (one source of truth).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.policy.bundle import BundleError


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    role: str  # government | charity | compliance
    streets: tuple[str, ...]  # jurisdiction (government) or service area (charity)


@dataclass(frozen=True)
class Purpose:
    id: str
    name: str
    categories: tuple[str, ...]
    templates: Mapping[str, Mapping[str, Mapping[str, Any]]]  # release -> field -> obligation


@dataclass(frozen=True)
class Catalogue:
    purposes: Mapping[str, Purpose]
    categories: dict[str, list[str]]
    sensitive_categories: frozenset[str]
    orgs: Mapping[str, Org]
    streets: tuple[str, ...]
    minimum_living_line_fen: int
    # The communities (社区) of each street; a bundle without them knows none.
    communities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, bundle_dir: str | Path) -> Catalogue:
        path = Path(bundle_dir) / "aidbridge" / "data.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"catalogue: cannot read {path}: {exc}") from exc
        try:
            return cls._from_document(document)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"catalogue: {path} lacks or misshapes {exc}") from exc

    @classmethod
    def _from_document(cls, doc: Mapping[str, Any]) -> Catalogue:
        categories = {name: list(fields) for name, fields in doc["categories"].items()}
        purposes = {
            pid: Purpose(pid, p["name"], tuple(p["categories"]), p["templates"])
            for pid, p in doc["purposes"].items()
        }
        orgs = {
            oid: Org(oid, o["name"], o["role"], tuple(o.get("streets", ())))
            for oid, o in doc["orgs"].items()
        }
        return cls(
            purposes=purposes,
            categories=categories,
            sensitive_categories=frozenset(doc["sensitive_categories"]),
            orgs=orgs,
            streets=tuple(doc["streets"]),
            minimum_living_line_fen=int(doc["minimum_living_line_fen"]),
            communities={
                street: tuple(names) for street, names in doc.get("communities", {}).items()
            },
        )

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(f for fields in self.categories.values() for f in fields)

    def category_of(self, field: str) -> str | None:
        for category, fields in self.categories.items():
            if field in fields:
                return category
        return None

    def org(self, org_id: str) -> Org | None:
        return self.orgs.get(org_id)

    def is_charity(self, org_id: str) -> bool:
        org = self.orgs.get(org_id)
        return org is not None and org.role == "charity"
