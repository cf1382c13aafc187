"""A decision's evidence: built from the policy's arrays, its binary form, its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from cpa_bandit.decision_log import evidence_of, evidence_population, evidence_stats
from cpa_bandit.domain import Evidence, decode_evidence
from cpa_bandit.policies import MODEL_VERSION, ArmStats, SourceCounts
from cpa_bandit.policies.population import Population

BIG = 2**63 - 1
POPULATION = Population(0.021, 35.5, 1.25, 28.75, 12.5, 0.3, 0.04)


def arms(source: bool = False, payouts: bool = True, reward_sq: bool = True) -> ArmStats:
    own = None
    if source:
        own = SourceCounts(
            np.array([4.0, 0.0, 1.0]), np.array([3.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]),
            np.array([0.1 + 0.2, 0.0, 0.0]), 200.0,
        )  # fmt: skip
    return ArmStats(
        np.array([10.0, 4.0, 0.0]),
        np.array([8.0, 2.0, 0.0]),
        np.array([2.0, 0.0, 0.0]),
        np.array([12.5 + 1 / 3, 0.0, 0.0]),
        np.array([np.nan, 3.0, 7.25]) if payouts else None,
        np.array([1 / 7, 0.0, 0.0]) if reward_sq else None,
        own,
    )


EVIDENCES = {
    "pooled": Evidence((1, 2, 7), (10, 4, 0), (8, 2, 0), (2, 0, 0), (12.5, 0.0, 0.0), (None, None, None)),
    "payouts, reward_sq, source, population": Evidence(
        offers=(1, BIG, 7),
        clicks=(BIG, 4, 0),
        resolved=(2**62, 2, 0),
        conversions=(2**53 + 1, 0, 0),
        reward=(0.1 + 0.2, 1e300, 5e-324),
        payout=(None, 3.0, 7.25),
        reward_sq=(1 / 3, 0.0, 2.5),
        source_clicks=(4, 0, BIG),
        source_resolved=(3, 0, 1),
        source_conversions=(1, 0, 0),
        source_reward=(1 / 7, 0.0, 0.0),
        source_weight=200.0,
        model=MODEL_VERSION,
        population=(0.021, 35.5, 1.25, 28.75, 12.5, 0.3, 0.04),
    ),
    "source without reward_sq": Evidence(
        (5,), (3,), (3,), (1,), (2.5,), (2.5,), source_clicks=(1,), source_resolved=(1,),
        source_conversions=(0,), source_reward=(0.0,), source_weight=0.0, model=MODEL_VERSION,
    ),  # fmt: skip
    "no offers": Evidence((), (), (), (), (), (), model=MODEL_VERSION),
}


@pytest.mark.parametrize("name", EVIDENCES)
def test_the_binary_form_gives_back_the_same_evidence_exactly(name: str) -> None:
    evidence = EVIDENCES[name]
    data = evidence.to_bytes()
    back = Evidence.from_bytes(data)
    assert back == evidence
    assert decode_evidence(data) == evidence
    assert back.offers == evidence.offers and all(type(offer) is int for offer in back.offers)
    assert [np.asarray(back.reward).tobytes()] == [np.asarray(evidence.reward, dtype=np.float64).tobytes()]
    assert back.to_bytes() == data
    assert data[0] == 0xE1 and len(data) % 8 == 0


def test_the_binary_form_is_a_header_then_int64_then_float64_blocks() -> None:
    evidence = EVIDENCES["payouts, reward_sq, source, population"]
    data = evidence.to_bytes()
    assert data[:8] == bytes([0xE1, 0b111]) + MODEL_VERSION.to_bytes(2, "little") + (3).to_bytes(4, "little")
    assert np.frombuffer(data, "<f8", 1, 8)[0] == 200.0
    ints = np.frombuffer(data, "<i8", 7 * 3, 16).reshape(7, 3)
    assert ints[0].tolist() == [1, BIG, 7] and ints[1].tolist() == [BIG, 4, 0] and ints[6].tolist() == [1, 0, 0]
    floats = np.frombuffer(data, "<f8", offset=16 + 7 * 3 * 8)
    assert len(floats) == 4 * 3 + 7
    assert math.isnan(floats[3]) and floats[4:6].tolist() == [3.0, 7.25]
    assert tuple(floats[-7:].tolist()) == evidence.population
    pooled = EVIDENCES["pooled"].to_bytes()
    assert len(pooled) == 16 + 8 * 3 * (4 + 2)  # no reward_sq, source or population block
    assert pooled[1] == 0 and math.isnan(np.frombuffer(pooled, "<f8", 1, 8)[0])


@pytest.mark.parametrize("source", [False, True])
def test_a_decisions_binary_form_is_the_one_its_columns_encode_to(source: bool) -> None:
    """``evidence_of`` encodes once and keeps the bytes; encoding its columns anew (as
    for evidence built by hand) gives the same bytes."""
    evidence = evidence_of([11, 12, 13], arms(source=source), POPULATION)
    anew = replace(evidence)  # not the constructor that keeps the bytes
    assert anew.to_bytes() == evidence.to_bytes() and anew.to_bytes() is not evidence.to_bytes()
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence == anew


def test_broken_or_impossible_binary_evidence_is_refused() -> None:
    data = EVIDENCES["pooled"].to_bytes()
    for broken in (data[:-8], data + bytes(8), data[:10], b"", b"\x00" + data[1:]):
        with pytest.raises(ValueError):
            Evidence.from_bytes(broken)
    with pytest.raises(ValueError, match="whole"):
        Evidence((1,), (4.5,), (2,), (0,), (0.0,), (None,)).to_bytes()
    with pytest.raises(ValueError, match="length"):
        Evidence((1, 2), (4, 1), (2, 1), (0, 0), (0.0,), (None, None)).to_bytes()
    with pytest.raises(ValueError, match="7 floats"):
        Evidence((1,), (4,), (2,), (0,), (0.0,), (None,), population=(0.1, 2.0)).to_bytes()


def test_a_decision_logs_the_arrays_the_policy_chose_from() -> None:
    evidence = evidence_of([11, 12, 13], arms())
    assert evidence.offers == (11, 12, 13)
    assert np.asarray(evidence.clicks).tolist() == [10, 4, 0]
    assert np.asarray(evidence.resolved).tolist() == [8, 2, 0]
    assert np.asarray(evidence.conversions).tolist() == [2, 0, 0]
    assert np.asarray(evidence.clicks).dtype == np.int64
    assert np.asarray(evidence.reward).tolist() == [12.5 + 1 / 3, 0.0, 0.0]  # exact, not rounded
    assert np.asarray(evidence.payout, dtype=np.float64).tolist()[1:] == [3.0, 7.25]
    assert math.isnan(evidence.payout[0])
    assert np.asarray(evidence.reward_sq).tolist() == [1 / 7, 0.0, 0.0]
    assert evidence.source_clicks == () and evidence.source_reward == () and evidence.source_weight is None
    assert (evidence.model, evidence.population) == (MODEL_VERSION, ())
    assert evidence == Evidence(
        (11, 12, 13), (10, 4, 0), (8, 2, 0), (2, 0, 0), (12.5 + 1 / 3, 0.0, 0.0), (None, 3.0, 7.25),
        reward_sq=(1 / 7, 0.0, 0.0), model=MODEL_VERSION,
    )  # fmt: skip


def test_a_decision_on_a_source_logs_its_counts_and_weight_and_the_population() -> None:
    evidence = evidence_of([11, 12, 13], arms(source=True, payouts=False, reward_sq=False), POPULATION)
    assert evidence == Evidence(
        (11, 12, 13), (10, 4, 0), (8, 2, 0), (2, 0, 0), (12.5 + 1 / 3, 0.0, 0.0), (None, None, None),
        source_clicks=(4, 0, 1), source_resolved=(3, 0, 1), source_conversions=(1, 0, 0),
        source_reward=(0.1 + 0.2, 0.0, 0.0), source_weight=200.0, model=MODEL_VERSION,
        population=(0.021, 35.5, 1.25, 28.75, 12.5, 0.3, 0.04),
    )  # fmt: skip
    assert evidence.reward_sq == ()
    assert evidence_population(evidence) == POPULATION
    assert evidence_population(Evidence.from_bytes(evidence.to_bytes())) == POPULATION
    assert evidence_population(evidence_of([1, 2, 3], arms())) is None


def test_logged_evidence_is_a_read_only_copy_of_the_policys_arrays() -> None:
    stats = arms(source=True)
    evidence = evidence_of([11, 12, 13], stats)
    stats.clicks[0] = 99.0
    stats.source.reward[0] = 99.0
    assert evidence.clicks[0] == 10 and evidence.source_reward[0] == 0.1 + 0.2
    for column in (evidence.clicks, evidence.reward, evidence.source_clicks, evidence.payout):
        with pytest.raises(ValueError):
            column[0] = 1  # type: ignore[index]


@pytest.mark.parametrize("source", [False, True])
def test_the_logged_evidence_gives_the_policy_back_its_statistics(source: bool) -> None:
    stats = arms(source=source)
    for evidence in (evidence_of([1, 2, 3], stats), Evidence.from_bytes(evidence_of([1, 2, 3], stats).to_bytes())):
        again = evidence_stats(evidence)
        for name in ("clicks", "resolved", "conversions", "reward", "reward_sq"):
            np.testing.assert_array_equal(getattr(again, name), getattr(stats, name))
        np.testing.assert_array_equal(again.declared_payout, stats.declared_payout)
        assert (again.source is None) == (not source)
        if source:
            np.testing.assert_array_equal(again.source.reward, stats.source.reward)
            assert again.source.weight == 200.0
    assert evidence_stats(evidence_of([1, 2, 3], arms(payouts=False))).declared_payout is None


def test_the_json_form_shows_what_the_log_always_showed() -> None:
    """Counts as integers, money to 6 decimals, undeclared payouts as null: the export's
    column as the decisions of model 2 wrote it."""
    shown = evidence_of([11, 12, 13], arms(source=True)).to_json()
    assert shown == (
        '{"offers":[11,12,13],"clicks":[10,4,0],"resolved":[8,2,0],"conversions":[2,0,0],'
        '"reward":[12.833333,0.0,0.0],"payout":[null,3.0,7.25],"reward_sq":[0.142857,0.0,0.0],'
        '"source_clicks":[4,0,1],"source_resolved":[3,0,1],"source_conversions":[1,0,0],'
        '"source_reward":[0.3,0.0,0.0],"source_weight":200.0,"model":2}'
    )
    with_population = json.loads(evidence_of([11, 12, 13], arms(), POPULATION).to_json())
    assert with_population["population"] == [0.021, 35.5, 1.25, 28.75, 12.5, 0.3, 0.04]
    assert with_population["source_clicks"] == [] and with_population["source_weight"] is None
    assert Evidence.from_json(json.dumps(with_population)).population == tuple(with_population["population"])


MODEL_1_ROW = (
    '{"offers":[1,2,7],"clicks":[10,4.5,0],"resolved":[8,2.25,0],"conversions":[1,0,0],"reward":[12.5,0,0],'
    '"payout":[null,3.0,null]}'
)
MODEL_2_ROW = (
    '{"offers":[1,2],"clicks":[10,4],"resolved":[8,2],"conversions":[1,0],"reward":[12.5,0.0],'
    '"payout":[null,3.0],"reward_sq":[156.25,0.0],"source_clicks":[3,1],"source_resolved":[2,1],'
    '"source_conversions":[1,0],"source_reward":[12.5,0.0],"source_weight":200.0,"model":2}'
)


@pytest.mark.parametrize("row", [MODEL_1_ROW, MODEL_2_ROW, MODEL_2_ROW.encode()])
def test_json_rows_logged_before_the_binary_form_still_decode(row: str | bytes) -> None:
    evidence = decode_evidence(row)
    assert evidence == Evidence.from_json(row)
    text = row if isinstance(row, str) else row.decode()
    if text == MODEL_1_ROW:  # counts with fractions (the first model's pseudo-counts): JSON only
        assert (evidence.model, evidence.clicks, evidence.reward_sq) == (1, (10, 4.5, 0), ())
        assert evidence.source_weight is None
        assert evidence_stats(evidence).resolved.tolist() == [8, 2.25, 0]
        assert json.loads(evidence.to_json()).items() >= json.loads(text).items()
    else:
        assert evidence.to_json() == text
        assert evidence.model == 2 and evidence.source_weight == 200.0
        assert evidence.population == () and evidence_population(evidence) is None
        assert Evidence.from_bytes(evidence.to_bytes()) == evidence
