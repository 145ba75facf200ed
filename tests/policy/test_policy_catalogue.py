"""The Python view of the bundle's catalogue agrees with what the policy reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy import BundleError
from gateway.policy.catalogue import Catalogue, Org

from .table import BUNDLE


def test_catalogue_lists_the_registered_organisations() -> None:
    catalogue = Catalogue.load(BUNDLE)
    bureau = catalogue.org("jb-civil-affairs")
    assert isinstance(bureau, Org) and bureau.role == "government" and bureau.name == "江北区民政局"
    assert len(bureau.streets) == 12
    assert catalogue.org("jb-guanyinqiao-office").streets == ("观音桥街道",)
    assert catalogue.org("charity-nobody") is None
    assert catalogue.is_charity("charity-harbour")
    assert not catalogue.is_charity("jb-supervision")


def test_catalogue_knows_categories_fields_and_purposes() -> None:
    catalogue = Catalogue.load(BUNDLE)
    assert catalogue.category_of("health_condition") == "health"
    assert catalogue.category_of("resident_id") == "identity"
    assert catalogue.category_of("shoe_size") is None
    assert catalogue.categories["minors_data"] == []
    assert catalogue.sensitive_categories == {
        "finances",
        "health",
        "disability",
        "assistance_status",
        "minors_data",
    }
    assert set(catalogue.purposes) == {
        "charitable_assistance",
        "medical_aid",
        "education_aid",
        "elderly_care",
        "disability_support",
    }
    assert catalogue.minimum_living_line_fen == 80000


def test_catalogue_from_a_missing_bundle_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="cannot read"):
        Catalogue.load(tmp_path)
