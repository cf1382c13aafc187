"""The contract every store passes: the same tests on memory and SQLite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import fields, replace

import numpy as np
import pytest

from cpa_bandit.conversions import Postback, Status
from cpa_bandit.domain import Decision, Offer, UnknownClick
from cpa_bandit.store import COUNTER_COLUMNS, Store
from cpa_bandit.store.base import OfferRows

T0 = 1_700_000_000.0


def decision(click_id: str, offer_id: int = 1, source: str | None = None, at: float = T0) -> Decision:
    return Decision(click_id, offer_id, source, at, {"sampler": "ucb", "ucb_c": 1.0}, 0.5)


def row(**values: int) -> dict[str, int]:
    """A counter row: the given counters, every other one 0."""
    return dict.fromkeys(COUNTER_COLUMNS, 0) | values


def counters(store: Store, *offer_ids: int, source: str | None = None) -> dict[int, dict[str, int]]:
    rows = store.read_offers(list(offer_ids), source)
    matrix = rows.by_source if source else rows.pooled
    return {o: dict(zip(COUNTER_COLUMNS, map(int, row))) for o, row in zip(offer_ids, matrix)}


def baselines(store: Store, *offer_ids: int, source: str | None = None) -> dict[int, dict[str, int]]:
    """The counters kept at the offers' evidence restarts, as ``counters`` reads the live ones."""
    rows = store.read_offers(list(offer_ids), source)
    matrix = rows.by_source_before if source else rows.pooled_before
    return {o: dict(zip(COUNTER_COLUMNS, map(int, row))) for o, row in zip(offer_ids, matrix)}


def test_unseen_offers_read_as_zero_rows_in_the_order_asked(store: Store) -> None:
    store.record_decision(decision("a", offer_id=5))
    rows = store.read_offers([9, 5, 2**63 - 1])
    assert rows.pooled.dtype == np.int64
    zeros = [0] * len(COUNTER_COLUMNS)
    assert rows.pooled.tolist() == [zeros, [1, *zeros[1:]], zeros]
    assert rows.by_source.tolist() == [zeros] * 3
    assert rows.payout_micros.tolist() == [-1, -1, -1] and rows.status.tolist() == [0] * 3
    assert rows.pooled_before.tolist() == rows.by_source_before.tolist() == [zeros] * 3
    assert rows.since.dtype == rows.reward_sq.dtype == rows.reward_sq_before.dtype == np.float64
    assert rows.since.tolist() == rows.reward_sq.tolist() == rows.reward_sq_before.tolist() == [0.0] * 3
    empty = store.read_offers([], "s")
    assert empty.pooled.shape == empty.by_source_before.shape == (0, len(COUNTER_COLUMNS))
    assert empty.status.shape == empty.since.shape == empty.reward_sq.shape == (0,)


def test_a_decision_counts_one_click_once(store: Store) -> None:
    stored, created = store.record_decision(decision("c1", offer_id=3, source="s1"))
    assert created and stored.offer_id == 3
    again, created = store.record_decision(decision("c1", offer_id=4))
    assert not created
    assert (again.offer_id, again.source, again.params, again.propensity) == (3, "s1", {"sampler": "ucb", "ucb_c": 1.0}, 0.5)
    assert counters(store, 3, 4) == {
        3: row(clicks=1, resolved=0, conversions=0, reward_micros=0, expired=0),
        4: dict.fromkeys(COUNTER_COLUMNS, 0),
    }


def test_resolving_moves_counters_exactly_once(store: Store) -> None:
    store.record_decision(decision("c1", offer_id=3))
    store.record_decision(decision("c2", offer_id=3))
    outcome, applied = store.resolve_click("c1", 12_340_000, at=1.0)
    assert applied and (outcome.offer_id, outcome.reward_micros, outcome.is_conversion) == (3, 12_340_000, True)
    outcome, applied = store.resolve_click("c1", 0, at=2.0)
    assert not applied and outcome.reward_micros == 12_340_000
    outcome, applied = store.resolve_click("c2", 0, at=3.0)
    assert applied and not outcome.is_conversion
    assert counters(store, 3)[3] == row(clicks=2, resolved=2, conversions=1, reward_micros=12_340_000, expired=0)


def test_unknown_click_is_refused_and_changes_nothing(store: Store) -> None:
    store.record_decision(decision("c1", offer_id=3))
    with pytest.raises(UnknownClick):
        store.resolve_click("nope", 1_000_000, at=1.0)
    assert counters(store, 3)[3]["resolved"] == 0


def test_reset_forgets_everything(store: Store) -> None:
    store.record_decision(decision("c1", offer_id=3, source="s"))
    store.resolve_click("c1", 5, at=1.0)
    store.put_offer(Offer(3, "x", None, "paused", T0))
    assert store.restart_offer(3, at=T0 + 1, expected_since=0.0)
    store.reset()
    assert counters(store, 3, source="s")[3] == dict.fromkeys(COUNTER_COLUMNS, 0)
    assert baselines(store, 3, source="s")[3] == baselines(store, 3)[3] == dict.fromkeys(COUNTER_COLUMNS, 0)
    assert store.read_offers([3]).since.tolist() == store.read_offers([3]).reward_sq_before.tolist() == [0.0]
    assert store.restart_offer(3, at=T0 + 2, expected_since=0.0), "restarts were forgotten"
    store.reset()
    assert store.get_offers() == [] and store.known_offer_ids() == []
    assert counters(store, 3)[3] == dict.fromkeys(COUNTER_COLUMNS, 0)
    with pytest.raises(UnknownClick):
        store.resolve_click("c1", 5, at=1.0)
    _, created = store.record_decision(decision("c1", offer_id=3))
    assert created


def test_state_survives_reopening(make_store: Callable[[], Store]) -> None:
    first = make_store()
    first.record_decision(decision("c1", offer_id=8))
    first.resolve_click("c1", 2_500_000, at=1.0)
    first.record_decision(decision("c2", offer_id=8))
    first.close()
    second = make_store()
    assert counters(second, 8)[8] == row(clicks=2, resolved=1, conversions=1, reward_micros=2_500_000, expired=0)
    outcome, applied = second.resolve_click("c2", 0, at=2.0)
    assert applied and outcome.offer_id == 8


def test_money_sums_are_exact(store: Store) -> None:
    """Ten thousand payouts of 0.1 add up to exactly 1000, which float addition does not."""
    for i in range(10_000):
        store.record_decision(decision(f"m{i}", offer_id=1))
        store.resolve_click(f"m{i}", 100_000, at=1.0)
    assert counters(store, 1)[1]["reward_micros"] == 1_000_000_000


def race(stores: list[Store], work: Callable[[Store, int], None]) -> None:
    """Run ``work(store, k)`` for each of the stores in a thread of its own, all at once;
    fails with what any of them raised."""
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            start.wait()
            work(stores[k], k)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def test_concurrent_operations_keep_counters_exact(make_store: Callable[[], Store]) -> None:
    """Threads with their own store objects race on the same clicks: each click and each
    outcome must count exactly once."""
    stores = [make_store() for _ in range(4)]
    clicks_per_thread = 150

    def work(store: Store, k: int) -> None:
        for i in range(clicks_per_thread):
            # every thread decides and resolves the same click ids: only one may count
            store.record_decision(decision(f"x{i}", offer_id=i % 3))
            store.resolve_click(f"x{i}", 1_000_000 if i % 5 == 0 else 0, at=1.0)
            store.record_decision(decision(f"own{k}-{i}", offer_id=i % 3))

    race(stores, work)
    totals = counters(stores[0], 0, 1, 2)
    assert sum(c["clicks"] for c in totals.values()) == clicks_per_thread * (1 + len(stores))
    assert sum(c["resolved"] for c in totals.values()) == clicks_per_thread
    assert sum(c["conversions"] for c in totals.values()) == clicks_per_thread // 5
    assert sum(c["reward_micros"] for c in totals.values()) == clicks_per_thread // 5 * 1_000_000


def test_a_click_id_reused_after_a_reset_is_decided_afresh(store: Store) -> None:
    store.record_decision(decision("r1", offer_id=3))
    store.reset()
    stored, created = store.record_decision(decision("r1", offer_id=4))
    assert created and stored.offer_id == 4
    assert counters(store, 3, 4)[4]["clicks"] == 1


def test_counters_are_kept_per_source_and_pooled(store: Store) -> None:
    store.record_decision(decision("a1", offer_id=1, source="fb"))
    store.record_decision(decision("a2", offer_id=1, source="fb"))
    store.record_decision(decision("a3", offer_id=1, source="tt"))
    store.record_decision(decision("a4", offer_id=1))
    store.resolve_click("a1", 5_000_000, at=T0)
    store.resolve_click("a3", 0, at=T0)
    assert counters(store, 1)[1] == row(clicks=4, resolved=2, conversions=1, reward_micros=5_000_000, expired=0)
    assert counters(store, 1, source="fb")[1] == row(clicks=2, resolved=1, conversions=1, reward_micros=5_000_000, expired=0)
    assert counters(store, 1, source="tt")[1] == row(clicks=1, resolved=1, conversions=0, reward_micros=0, expired=0)
    assert counters(store, 1, source="new")[1] == dict.fromkeys(COUNTER_COLUMNS, 0)
    assert store.record_decision(decision("a1", offer_id=1))[0].source == "fb"
    assert store.record_decision(decision("a4", offer_id=1))[0].source is None


def test_expiry_counts_old_pending_clicks_once_and_late_feedback_still_counts(store: Store) -> None:
    for i, at in enumerate([T0, T0 + 10, T0 + 20, T0 + 30]):
        store.record_decision(decision(f"e{i}", offer_id=2, source="s", at=at))
    store.resolve_click("e0", 0, at=T0 + 40)
    assert store.expire_clicks(decided_before=T0 + 25, limit=100) == 2  # e1, e2; e0 resolved
    assert store.expire_clicks(decided_before=T0 + 25, limit=100) == 0
    for source in (None, "s"):
        assert counters(store, 2, source=source)[2] == row(clicks=4, resolved=1, conversions=0, reward_micros=0, expired=2)
    outcome, applied = store.resolve_click("e1", 7_000_000, at=T0 + 50)  # late feedback
    assert applied and outcome.is_conversion
    for source in (None, "s"):
        assert counters(store, 2, source=source)[2] == row(clicks=4, resolved=2, conversions=1, reward_micros=7_000_000, expired=1)
    assert store.expire_clicks(decided_before=T0 + 100, limit=100) == 1  # e3 only
    assert counters(store, 2)[2]["expired"] == 2


def test_expiry_works_in_bounded_batches(store: Store) -> None:
    for i in range(25):
        store.record_decision(decision(f"b{i}", offer_id=3, at=T0 + i))
    assert [store.expire_clicks(T0 + 100, limit=10) for _ in range(4)] == [10, 10, 5, 0]
    assert counters(store, 3)[3]["expired"] == 25


def test_offer_registry(store: Store) -> None:
    assert store.get_offers() == [] and store.known_offer_ids() == []
    store.put_offer(Offer(7, "Casino DE", 25_000_000, "active", T0))
    store.put_offer(Offer(3, None, None, "paused", T0))
    store.put_offer(Offer(7, "Casino DE v2", 30_000_000, "active", T0 + 1))  # replaces
    assert store.get_offers() == [Offer(3, None, None, "paused", T0), Offer(7, "Casino DE v2", 30_000_000, "active", T0 + 1)]
    assert store.get_offers([7, 99]) == [Offer(7, "Casino DE v2", 30_000_000, "active", T0 + 1)]
    rows = store.read_offers([7, 3, 5])
    assert rows.payout_micros.tolist() == [30_000_000, -1, -1]
    assert rows.status.tolist() == [0, 1, 0]  # active, paused, not registered
    store.record_decision(decision("r1", offer_id=5))
    assert store.known_offer_ids() == [3, 5, 7]


def test_landing_urls_and_smartlinks_are_kept_and_reset(make_store: Callable[[], Store]) -> None:
    """An offer's URL template (set, patched, cleared) and smartlinks' JSON, as given, across
    a reopening; a reset forgets them with the rest."""
    store = make_store()
    url = "https://lp.example/?c={click_id}&s={sub1}"
    store.put_offer(Offer(4, "LP", None, "active", T0, url=url))
    assert store.get_offers([4])[0].url == url
    assert store.patch_offer(4, {"url": url + "&x=1"}, T0 + 1).url == url + "&x=1"
    spec = '{"name":"eu","offers":[4,5]}'
    assert store.get_smartlink("eu") is None and store.list_smartlinks() == {}
    store.put_smartlink("eu", spec)
    store.put_smartlink("asia", "{}")
    store.put_smartlink("asia", '{"v":2}')  # replaces
    store = make_store()  # the same data, opened again
    assert store.get_offers([4])[0].url == url + "&x=1"
    assert store.get_smartlink("eu") == spec
    assert store.list_smartlinks() == {"asia": '{"v":2}', "eu": spec}
    assert store.delete_smartlink("asia") and not store.delete_smartlink("asia")
    assert store.patch_offer(4, {"url": None}, T0 + 2).url is None
    store.reset()
    assert store.list_smartlinks() == {} and store.get_offers() == []


def test_an_archived_offer_is_stored_resting_and_keeps_its_counters(make_store: Callable[[], Store]) -> None:
    """Every store keeps the status ``archived`` (read back by ``get_offers``, across a
    reopening) and tells decisions it rests (status code 2, apart from paused's 1)."""
    store = make_store()
    store.record_decision(decision("a1", offer_id=4))
    store.resolve_click("a1", 3_000_000, at=T0)
    archived = Offer(4, "Old", 2_000_000, "archived", T0, cap_daily=9, timezone="Europe/Berlin")
    assert store.put_offer(archived) == archived
    store.put_offer(Offer(5, status="paused", updated_at=T0))
    reopened = make_store()
    assert reopened.get_offers() == [archived, Offer(5, status="paused", updated_at=T0)]
    rows = reopened.read_offers([4, 5, 6])
    assert rows.status.tolist() == [2, 1, 0]
    assert rows.resting(T0).tolist() == [True, True, False]
    assert counters(reopened, 4)[4] == row(clicks=1, resolved=1, conversions=1, reward_micros=3_000_000)
    assert reopened.known_offer_ids() == [4, 5]
    reopened.put_offer(Offer(4, status="active", updated_at=T0 + 1))
    assert reopened.read_offers([4]).status.tolist() == [0]


def test_a_patch_changes_the_fields_given_and_keeps_the_others(store: Store) -> None:
    entry = Offer(7, "Casino DE", 25_000_000, "paused", T0, cap_daily=50, cap_monthly=900, timezone="Europe/Berlin",
                  multiple_conversions=True)  # fmt: skip
    store.put_offer(entry)
    expected = replace(entry, payout_micros=30_000_000, cap_daily=None, updated_at=T0 + 5)
    assert store.patch_offer(7, {"payout_micros": 30_000_000, "cap_daily": None}, T0 + 5) == expected
    assert store.get_offers([7]) == [expected]
    archived = replace(expected, status="archived", updated_at=T0 + 6)
    assert store.patch_offer(7, {"status": "archived"}, T0 + 6) == archived
    assert store.read_offers([7]).status.tolist() == [2]
    # changes that change nothing write nothing: updated_at stays
    assert store.patch_offer(7, {"status": "archived", "timezone": "Europe/Berlin"}, T0 + 7) == archived
    assert store.patch_offer(7, {}, T0 + 8) == archived
    assert store.get_offers([7]) == [archived]
    # no entry: nothing is created
    assert store.patch_offer(8, {"name": "x"}, T0) is None
    assert store.get_offers() == [archived] and store.read_offers([8]).status.tolist() == [0]
    with pytest.raises(ValueError):
        store.patch_offer(7, {"offer_id": 9}, T0)
    with pytest.raises(ValueError):
        store.patch_offer(7, {"status": "deleted"}, T0)
    assert store.get_offers() == [archived]


def test_a_patch_of_a_cap_sets_capped_until_from_the_periods_usage(store: Store) -> None:
    store.put_offer(Offer(4, cap_daily=5, updated_at=T0))
    for click_id in ("p1", "p2"):
        store.record_decision(decision(click_id, offer_id=4))
        store.apply_postback(Postback(click_id), at=T0)
    midnight = (T0 // 86_400 + 1) * 86_400
    assert store.patch_offer(4, {"cap_daily": 2}, T0 + 1).capped_until == midnight
    assert store.read_offers([4]).capped_until.tolist() == [midnight]
    assert store.patch_offer(4, {"name": "renamed"}, T0 + 2).capped_until == midnight, "still at its cap"
    assert store.patch_offer(4, {"cap_daily": None}, T0 + 3).capped_until == 0
    assert store.read_offers([4]).capped_until.tolist() == [0]


def test_concurrent_patches_of_other_fields_are_all_kept(make_store: Callable[[], Store]) -> None:
    """Workers patching different fields of one entry at once, each with its own store
    object: no patch undoes another (each is one atomic read-merge-write)."""
    stores = [make_store() for _ in range(3)]
    stores[0].put_offer(Offer(1, updated_at=T0))
    patches = 40
    changes_of = [
        lambda i: {"name": f"n{i}"},
        lambda i: {"payout_micros": i + 1},
        lambda i: {"cap_monthly": i + 1},
    ]

    def work(store: Store, k: int) -> None:
        for i in range(patches):
            store.patch_offer(1, changes_of[k](i), T0 + i)

    race(stores, work)
    (final,) = stores[0].get_offers([1])
    assert (final.name, final.payout_micros, final.cap_monthly) == (f"n{patches - 1}", patches, patches)
    assert (final.status, final.timezone, final.cap_daily) == ("active", "UTC", None)


def test_recent_choices_count_the_latest_decisions(store: Store) -> None:
    for i in range(10):
        store.record_decision(decision(f"c{i}", offer_id=1 if i < 6 else 2, at=T0 + i))
    assert store.recent_choices(4) == {2: 4}
    assert store.recent_choices(5) == {1: 1, 2: 4}
    assert store.recent_choices(100) == {1: 6, 2: 4}


def test_postbacks_use_caps_and_reset_forgets_them(store: Store) -> None:
    store.put_offer(Offer(4, cap_daily=2, updated_at=T0))
    for click_id in ("p1", "p2", "p3"):
        store.record_decision(decision(click_id, offer_id=4))
    store.apply_postback(Postback("p1", status=Status.pending, payout_micros=1), at=T0)
    store.apply_postback(Postback("p1", status=Status.approved), at=T0)  # a move: counted once
    assert store.read_offers([4]).capped_until.tolist() == [0]
    store.apply_postback(Postback("p2", status=Status.rejected), at=T0)  # born rejected: not counted
    store.apply_postback(Postback("p3"), at=T0)
    (until,) = store.read_offers([4]).capped_until.tolist()
    assert until == store.get_offers([4])[0].capped_until == (T0 // 86_400 + 1) * 86_400
    # a new registry entry keeps the day's usage: a higher cap lets the offer back at once
    assert store.put_offer(Offer(4, cap_daily=3, updated_at=T0)).capped_until == 0
    store.count_postback("applied")
    store.reset()
    assert store.postback_counts() == {} and store.read_offers([4]).capped_until.tolist() == [0]
    assert store.put_offer(Offer(4, cap_daily=1, updated_at=T0)).capped_until == 0, "cap usage was forgotten"
    store.record_decision(decision("p1", offer_id=4))
    assert store.apply_postback(Postback("p1"), at=T0).previous is None, "conversions were forgotten"


def test_reward_sq_sums_the_squared_rewards_of_resolved_clicks(store: Store) -> None:
    """In currency units, per click (a rebill adds to its click's reward before squaring),
    moved as the reward is: approvals add, chargebacks take back. Pooled over sources."""
    store.put_offer(Offer(1, multiple_conversions=True, updated_at=T0))
    for click_id in ("q1", "q2", "q3", "q4", "q5", "q6"):
        store.record_decision(decision(click_id, offer_id=1, source="fb" if click_id < "q4" else None))
    store.record_decision(decision("other", offer_id=2))
    store.resolve_click("q1", 12_500_000, at=T0)
    store.resolve_click("q2", 0, at=T0)
    store.apply_postback(Postback("q3", "a", Status.pending, payout_micros=7_250_000), at=T0)
    assert store.read_offers([1]).reward_sq.tolist() == [pytest.approx(12.5**2, rel=1e-9)], "pending: not yet"
    store.apply_postback(Postback("q3", "a", Status.approved), at=T0 + 1)
    store.apply_postback(Postback("q4", "a", Status.approved, payout_micros=3_000_000), at=T0)
    store.apply_postback(Postback("q4", "b", Status.approved, payout_micros=4_500_000), at=T0 + 1)  # a rebill
    assert store.read_offers([1]).reward_sq.tolist() == [pytest.approx(12.5**2 + 7.25**2 + 7.5**2, rel=1e-9)]
    store.apply_postback(Postback("q4", "b", Status.chargeback), at=T0 + 2)
    store.apply_postback(Postback("q5", "a", Status.approved, payout_micros=20_000_000), at=T0)
    store.apply_postback(Postback("q5", "a", Status.chargeback), at=T0 + 2)
    store.expire_clicks(T0 + 1, limit=10)  # q6, then its late feedback
    store.resolve_click("q6", 1_750_000, at=T0 + 3)
    store.resolve_click("other", 2_000_000, at=T0 + 3)
    expected = [12.5**2 + 7.25**2 + 3.0**2 + 1.75**2, 2.0**2]
    for source in (None, "fb"):
        assert store.read_offers([1, 2], source).reward_sq.tolist() == pytest.approx(expected, rel=1e-9)


def feed_offer_1(store: Store, prefix: str) -> None:
    """Clicks of offer 1 on two sources and none, with a conversion, a non-conversion and a
    pending postback conversion."""
    store.record_decision(decision(f"{prefix}1", offer_id=1, source="fb"))
    store.record_decision(decision(f"{prefix}2", offer_id=1, source="tt"))
    store.record_decision(decision(f"{prefix}3", offer_id=1))
    store.resolve_click(f"{prefix}1", 2_000_000, at=T0)
    store.resolve_click(f"{prefix}3", 0, at=T0)
    store.apply_postback(Postback(f"{prefix}2", "t", Status.pending, payout_micros=3_000_000), at=T0)


def test_a_restart_keeps_the_counters_of_its_moment_as_the_evidence_baseline(store: Store) -> None:
    feed_offer_1(store, "a")
    sources = (None, "fb", "tt")
    then = {source: counters(store, 1, source=source)[1] for source in sources}
    assert store.restart_offer(1, at=T0 + 100, expected_since=0.0)
    feed_offer_1(store, "b")  # after the restart: the lifetime counters move on, the baselines stay
    for source in sources:
        rows = store.read_offers([1, 2], source)
        assert rows.since.tolist() == [T0 + 100, 0.0]
        assert baselines(store, 1, 2, source=source) == {1: then[source], 2: dict.fromkeys(COUNTER_COLUMNS, 0)}
        assert counters(store, 1, source=source)[1] == {c: 2 * n for c, n in then[source].items()}
        assert rows.reward_sq.tolist() == [8.0, 0.0] and rows.reward_sq_before.tolist() == [4.0, 0.0]
    assert store.read_offers([1]).by_source_before.tolist() == [[0] * len(COUNTER_COLUMNS)], "no source asked"
    assert then["fb"] == row(clicks=1, resolved=1, conversions=1, reward_micros=2_000_000)
    assert then["tt"] == row(clicks=1, pending_conversions=1, pending_reward_micros=3_000_000)


def test_a_restart_that_expected_another_start_is_refused_and_changes_nothing(store: Store) -> None:
    feed_offer_1(store, "a")
    assert store.restart_offer(1, at=T0 + 100, expected_since=0.0)
    feed_offer_1(store, "b")
    before = {source: store.read_offers([1, 7], source) for source in (None, "fb")}
    assert not store.restart_offer(1, at=T0 + 200, expected_since=0.0)  # another worker restarted it first
    assert not store.restart_offer(1, at=T0 + 200, expected_since=T0 + 50)
    assert not store.restart_offer(7, at=T0 + 200, expected_since=T0 + 100)  # unseen: never restarted
    for source, rows in before.items():
        after = store.read_offers([1, 7], source)
        for field in fields(OfferRows):
            assert getattr(after, field.name).tolist() == getattr(rows, field.name).tolist(), (source, field.name)
    assert store.known_offer_ids() == [1]
    # a second restart replaces the baseline with the counters of its own moment; a policy
    # passes the start it read
    (since,) = store.read_offers([1]).since
    assert store.restart_offer(1, at=np.float64(T0 + 300), expected_since=since)
    for source in (None, "fb", "tt"):
        assert baselines(store, 1, source=source) == counters(store, 1, source=source)
    assert store.read_offers([1]).since.tolist() == [T0 + 300]
    assert store.read_offers([1]).reward_sq_before.tolist() == [8.0]


def test_a_source_first_seen_after_a_restart_has_no_baseline(store: Store) -> None:
    feed_offer_1(store, "a")
    assert store.restart_offer(1, at=T0 + 100, expected_since=0.0)
    store.record_decision(decision("n1", offer_id=1, source="new"))
    assert baselines(store, 1, source="new")[1] == dict.fromkeys(COUNTER_COLUMNS, 0)
    assert counters(store, 1, source="new")[1] == row(clicks=1)
    assert baselines(store, 1)[1]["clicks"] == 3


def test_an_offer_without_counters_can_restart_from_zeros(store: Store) -> None:
    assert store.restart_offer(9, at=T0 + 100, expected_since=0.0)
    assert store.read_offers([9]).since.tolist() == [T0 + 100]
    assert store.known_offer_ids() == [], "a restart is no counter"
    store.record_decision(decision("z1", offer_id=9, source="fb"))
    for source in (None, "fb"):
        assert counters(store, 9, source=source)[9] == row(clicks=1)
        assert baselines(store, 9, source=source)[9] == dict.fromkeys(COUNTER_COLUMNS, 0)


def test_a_restart_survives_reopening(make_store: Callable[[], Store]) -> None:
    first = make_store()
    feed_offer_1(first, "a")
    assert first.restart_offer(1, at=T0 + 100, expected_since=0.0)
    feed_offer_1(first, "b")
    first.close()
    second = make_store()
    rows = second.read_offers([1], "fb")
    assert rows.since.tolist() == [T0 + 100] and rows.reward_sq_before.tolist() == [4.0]
    assert baselines(second, 1, source="fb")[1] == row(clicks=1, resolved=1, conversions=1, reward_micros=2_000_000)
    assert baselines(second, 1)[1]["clicks"] == 3
    assert second.restart_offer(1, at=T0 + 200, expected_since=T0 + 100)


def test_concurrent_restarts_of_an_offer_restart_it_once(make_store: Callable[[], Store]) -> None:
    """Workers that detected the same change, each with its own store object: one restart
    an offer, the others are told it was restarted already."""
    stores = [make_store() for _ in range(4)]
    offers = 30
    for offer_id in range(offers):
        stores[0].record_decision(decision(f"c{offer_id}", offer_id=offer_id, source="fb"))
    won: list[list[int]] = [[] for _ in stores]

    def work(store: Store, k: int) -> None:
        won[k] = [o for o in range(offers) if store.restart_offer(o, at=T0 + k, expected_since=0.0)]

    race(stores, work)
    assert sorted(o for offers_won in won for o in offers_won) == list(range(offers))
    winners = {o: T0 + k for k, offers_won in enumerate(won) for o in offers_won}
    assert stores[0].read_offers(list(range(offers))).since.tolist() == [winners[o] for o in range(offers)]


def test_a_batch_records_its_decisions_once_each_and_keeps_each_answer(store: Store) -> None:
    """Group commit: decisions announced to the batch (recorded together where the store
    can, e.g. pipelined on Redis), a click id twice in it, a replay of an earlier one,
    feedback and a refusal in the same block: each gets the answer it gets alone."""
    store.record_decision(decision("old", offer_id=2, source="s"))
    batch = [decision("b1", offer_id=1, source="s"), decision("b2", offer_id=2), decision("b1", offer_id=3),
             decision("old", offer_id=1)]  # fmt: skip
    with store.batch(batch):
        answers = [store.record_decision(d) for d in batch]
        resolved = store.resolve_click("old", 1_500_000, T0 + 1)
        with pytest.raises(UnknownClick):
            store.resolve_click("never", 0, T0 + 1)
        late = store.record_decision(decision("b3", offer_id=3))  # not announced: recorded as it comes
    assert [(d.click_id, d.offer_id, created) for d, created in answers] == [
        ("b1", 1, True), ("b2", 2, True), ("b1", 1, False), ("old", 2, False)
    ]
    assert answers[2][0].source == "s" and late[1] and resolved[0].offer_id == 2
    assert counters(store, 1, 2, 3) == {
        1: row(clicks=1), 2: row(clicks=2, resolved=1, conversions=1, reward_micros=1_500_000), 3: row(clicks=1)
    }
    assert counters(store, 1, 2, source="s") == {1: row(clicks=1), 2: row(clicks=1, resolved=1, conversions=1, reward_micros=1_500_000)}
    assert store.recent_choices(10) == {1: 1, 2: 2, 3: 1}
