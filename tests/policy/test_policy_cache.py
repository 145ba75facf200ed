"""The decision cache (gateway/policy/cache.py) on the real engines and the real bundle.

A decision is reused only for the same input but for now_ns, inside the interval the policy
says it holds in; never a fail-closed denial; every answer has its own decision id.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.cases import age_on, birthday_ns
from gateway.clock import to_date
from gateway.config import ConfigError, load_config
from gateway.policy import load_engine
from gateway.policy.cache import DecisionCache, cache_key
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.remote import RemoteEngine

from .golib_engine import canonical
from .opa_data_api import OpaDataApiServer
from .table import BUNDLE, load_table

ROWS = load_table()
RELEASE = copy.deepcopy(next(row[1] for row in ROWS if row[2]["allow"] and "release" in row[1]))
UNTIL = RELEASE["consent"]["valid_until_ns"]
NOW = RELEASE["now_ns"]


def at(now_ns: int, policy_input: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(policy_input or RELEASE)
    changed["now_ns"] = now_ns
    for part, value in changes.items():
        changed[part] = value
    return changed


@pytest.fixture
def cache(embedded: EmbeddedEngine) -> DecisionCache:
    return DecisionCache(embedded, max_entries=64)


def test_a_repeated_input_is_answered_from_the_cache_with_its_own_decision_id(
    cache: DecisionCache,
) -> None:
    first = cache.decide(at(NOW))
    second = cache.decide(at(NOW + 1_000_000_000))
    assert first.allow and not first.cached_from
    assert canonical(second) == canonical(first)
    assert second.cached_from == first.decision_id
    assert second.decision_id not in {first.decision_id, ""}
    assert second.revision == first.revision
    assert (cache.hits, cache.misses) == (1, 1)


def test_every_cached_answer_has_a_decision_id_of_its_own(cache: DecisionCache) -> None:
    ids = {cache.decide(at(NOW + n)).decision_id for n in range(50)}
    assert len(ids) == 50
    assert cache.hits == 49


@pytest.mark.parametrize(("offset", "hit"), [(-2, True), (-1, True), (0, False), (1, False)])
def test_a_decision_is_not_reused_at_or_past_the_consents_expiry(
    cache: DecisionCache, offset: int, hit: bool
) -> None:
    cache.decide(at(NOW))
    later = cache.decide(at(UNTIL + offset))
    assert bool(later.cached_from) is hit
    assert later.allow is (offset < 0)
    if not hit:
        assert "consent expired" in later.reasons


def test_a_decision_before_the_consent_starts_is_not_reused_once_it_does(
    cache: DecisionCache,
) -> None:
    start = RELEASE["consent"]["valid_from_ns"]
    early = cache.decide(at(start - 2))
    assert not early.allow and "consent is not yet valid" in early.reasons
    assert cache.decide(at(start - 1)).cached_from  # still before: the same denial
    started = cache.decide(at(start))
    assert started.allow and not started.cached_from


def test_the_14th_birthday_ends_a_guardians_consent_even_with_the_same_input(
    cache: DecisionCache,
) -> None:
    birthday = NOW + 10_000
    child = at(
        NOW,
        subject={
            "age_years": 13,
            "lacks_capacity": False,
            "turns_14_ns": birthday,
            "turns_18_ns": birthday + 4 * 365 * 86_400 * 10**9,
        },
    )
    child["consent"]["grantor_kind"] = "guardian"
    child["consent"]["categories"].append("minors_data")
    assert cache.decide(child).allow
    assert cache.decide(at(birthday - 1, child)).cached_from
    # The same input a nanosecond later: the interval has ended, so the policy decides again.
    assert not cache.decide(at(birthday, child)).cached_from
    # And as the gateway sends it from then on (age 14): the guardian's consent has lapsed.
    fourteen = at(birthday, child)
    fourteen["subject"]["age_years"] = 14
    decision = cache.decide(fourteen)
    assert not decision.allow and not decision.cached_from
    assert any("guardian consent lapsed" in reason for reason in decision.reasons)


def test_a_withdrawn_consent_is_another_input_and_never_a_hit(cache: DecisionCache) -> None:
    assert cache.decide(at(NOW)).allow
    withdrawn = at(NOW + 1)
    withdrawn["consent"]["state"] = "withdrawn"
    decision = cache.decide(withdrawn)
    assert not decision.allow and not decision.cached_from
    assert "consent c-0001 is withdrawn, not active" in decision.reasons


def test_the_key_ignores_now_and_key_order_but_nothing_else() -> None:
    reordered = dict(reversed(list(at(NOW + 5).items())))
    assert cache_key("r1", at(NOW)) == cache_key("r1", reordered)
    assert cache_key("r1", at(NOW)) != cache_key("r2", at(NOW))
    other_actor = at(NOW)
    other_actor["caller"]["actor"] = "staff-018"
    assert cache_key("r1", at(NOW)) != cache_key("r1", other_actor)
    assert cache_key("r1", at(NOW, purpose={1, 2})) is None  # not JSON: not cached


def test_inputs_without_an_integer_clock_or_not_json_go_to_the_engine(
    cache: DecisionCache,
) -> None:
    no_clock, float_clock = at(NOW), at(NOW)
    del no_clock["now_ns"]
    float_clock["now_ns"] = float(NOW)
    for bad in (no_clock, float_clock, at(NOW, consent={"x": {1}})):
        cache.decide(bad)
        assert not cache.decide(bad).cached_from
    assert len(cache) == 0
    refused = cache.decide(at(NOW, consent={"x": {1}}))
    assert not refused.allow and refused.reasons[0].startswith("policy engine error")


def test_it_holds_at_most_its_bound_least_recently_used_out_first(
    embedded: EmbeddedEngine,
) -> None:
    cache = DecisionCache(embedded, max_entries=2)
    a, b, c = (at(NOW, purpose=p) for p in ("medical_aid", "education_aid", "housing_aid"))
    cache.decide(a)
    cache.decide(b)
    assert cache.decide(a).cached_from  # a is now the most recently used
    cache.decide(c)  # evicts b
    assert len(cache) == 2
    assert cache.decide(a).cached_from
    assert not cache.decide(b).cached_from


def test_a_malformed_decision_is_a_denial_and_never_kept(bundle_copy: Path) -> None:
    holds = bundle_copy / "aidbridge" / "holds.rego"
    text = holds.read_text(encoding="utf-8")
    holds.write_text(
        text.replace(
            '{"from_ns": from, "until_ns": until}', '{"from_ns": "then", "until_ns": until}'
        ),
        encoding="utf-8",
    )
    cache = DecisionCache(EmbeddedEngine(bundle_copy), max_entries=8)
    for _ in range(2):
        decision = cache.decide(at(NOW))
        assert not decision.allow and not decision.cached_from
        assert decision.reasons[0].startswith("policy returned a malformed decision: holds")
    assert len(cache) == 0


@pytest.mark.parametrize("fault", ["slow", "http-500", "malformed-json", "bad-shape", "undefined"])
def test_engine_faults_are_never_kept(healthy_data_api: OpaDataApiServer, fault: str) -> None:
    remote = RemoteEngine(healthy_data_api.url, bundle_dir=BUNDLE, timeout_s=0.2)
    cache = DecisionCache(remote, max_entries=8)
    healthy_data_api.slow_s = 0.6
    healthy_data_api.fault = fault
    denied = cache.decide(at(NOW))
    assert not denied.allow and len(cache) == 0
    healthy_data_api.fault = None
    allowed = cache.decide(at(NOW + 1))
    assert allowed.allow and not allowed.cached_from  # evaluated: the denial was not kept
    assert cache.decide(at(NOW + 2)).cached_from == allowed.decision_id


def test_a_reload_forgets_every_decision(bundle_copy: Path) -> None:
    cache = DecisionCache(EmbeddedEngine(bundle_copy), max_entries=8)
    first = cache.decide(at(NOW))
    for test in bundle_copy.rglob("*_test.rego"):  # a reload runs them: minutes on regopy
        test.unlink()
    manifest = bundle_copy / ".manifest"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("2026.12.03-1", "2026.12.03-2"),
        encoding="utf-8",
    )
    assert cache.reload(bundle_copy) == "2026.12.03-2"
    assert len(cache) == 0
    again = cache.decide(at(NOW + 1))
    assert not again.cached_from and again.revision == "2026.12.03-2" != first.revision


def test_concurrent_callers_get_the_same_decision_each_with_its_own_id(
    cache: DecisionCache,
) -> None:
    expected = canonical(cache.decide(at(NOW)))
    inputs = [at(NOW + n, purpose=p) for n in range(40) for p in ("charitable_assistance",)]
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(part: list[dict[str, Any]]) -> None:
        for policy_input in part:
            d = cache.decide(policy_input)
            with lock:
                seen.append((canonical(d), d.decision_id))

    threads = [threading.Thread(target=work, args=(inputs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {c for c, _ in seen} == {expected}
    assert len({i for _, i in seen}) == len(inputs)


def test_load_engine_puts_the_cache_in_front_of_the_embedded_engine_only(
    data_api: OpaDataApiServer,
) -> None:
    assert isinstance(load_engine(BUNDLE, cache_entries=16), DecisionCache)
    assert isinstance(load_engine(BUNDLE), EmbeddedEngine)
    assert isinstance(load_engine(BUNDLE, data_api.url, cache_entries=16), RemoteEngine)


def test_the_cache_is_on_by_default_and_a_setting_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config(tmp_path).decision_cache_entries > 0
    monkeypatch.setenv("AIDBRIDGE_DECISION_CACHE_ENTRIES", "0")
    assert load_config(tmp_path).decision_cache_entries == 0
    monkeypatch.setenv("AIDBRIDGE_DECISION_CACHE_ENTRIES", "-1")
    with pytest.raises(ConfigError, match="decision_cache_entries"):
        load_config(tmp_path)


@pytest.mark.parametrize("born", ["2012-02-29", "2010-06-15", "1999-12-31", "2013-03-01"])
@pytest.mark.parametrize("years", [14, 18])
def test_a_birthday_instant_is_where_the_age_changes(born: str, years: int) -> None:
    instant = birthday_ns(born, years)
    assert age_on(born, to_date(instant)) == years
    assert age_on(born, to_date(instant - 1)) == years - 1


def _ids_in_child(queue: Any) -> None:
    from gateway.policy.engine import new_decision_id

    queue.put([new_decision_id() for _ in range(3)])


def test_decision_ids_are_uuids_unique_in_the_process_and_in_a_forked_child() -> None:
    import multiprocessing
    import uuid

    from gateway.policy.engine import new_decision_id

    mine = [new_decision_id() for _ in range(1000)]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_ids_in_child, args=(queue,))
    child.start()
    theirs = queue.get(timeout=60)
    child.join(timeout=60)
    mine += [new_decision_id() for _ in range(3)]
    assert len(set(mine) | set(theirs)) == len(mine) + len(theirs)
    assert all(uuid.UUID(i).version == 4 for i in mine + theirs)
