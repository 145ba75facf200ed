"""The printable access report: every value escaped (a hostile organisation name stays text),
no external asset, an empty report says so, Chinese kept as UTF-8."""

from __future__ import annotations

from html.parser import HTMLParser

from gateway.access_report.render import report_html, rfc3339_ns


def _document(lines: list[dict]) -> dict:  # type: ignore[type-arg]
    return {
        "format": "aidbridge-access-report/v1",
        "subject": "k1.abc",
        "generated_at": rfc3339_ns(1_795_804_588_684_864_892),
        "checkpoint": {
            "note": "o\n1\nAAAA\n\n— o sig\n",
            "tree_size": 1,
            "root_hash": "AAAA",
            "cosigned_by": [],
        },
        "lines": lines,
    }


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_hostile_values_are_escaped_and_nothing_is_fetched() -> None:
    line = {
        "kind": "release",
        "index": 0,
        "at": rfc3339_ns(0),
        "org": "x<script>alert(1)</script>",
        "org_name": '"><img src=//evil>',
        "actor": "a",
        "method": "m",
        "fields": [{"field": "street", "transform": "TRANSFORM_GENERALISE"}],
        "consent_id": "c-1",
        "consent_version": 1,
        "purpose": "charitable_assistance",
        "entry_json": "{}",
        "inclusion": {"index": 0, "tree_size": 1, "hashes": []},
    }
    page = report_html(_document([line]))
    parsed = _Tags()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "link" not in parsed.tags
    assert "&lt;script&gt;" in page
    assert '<meta charset="utf-8">' in page and "概括 generalised" in page


def test_an_empty_report_says_no_release_is_recorded() -> None:
    page = report_html(_document([]))
    assert "No release of this person's data is recorded in the ledger." in page
    assert 'id="line-count">0<' in page
