"""The doubly robust estimator's reward model: mean reward per (offer, source), cross-fitted.

q̂(offer, source) is the log's mean reward of that offer on that source, shrunk towards the
offer's mean over all sources, itself shrunk towards the mean reward of the whole log: an
offer × source seen on a handful of rounds (most are, at CPA conversion rates) borrows from
the offer, and an offer the logging policy rarely chose borrows from the log. The prior
weight is ``SHRINK_ROUNDS`` rounds at each level.

Cross-fitting: the rounds are split into ``FOLDS`` folds by position (round i in fold
i mod FOLDS, so every fold spans the whole log, drift included), and each round's q̂ is
fitted on the other folds only. A model that had seen the round's own reward would absorb
part of it into q̂, and the residual r − q̂ that DR weights would then shrink towards
zero: the estimate would lean towards what the logging policy chose.

Why not the evidence's own rates? They are what the service knew *before* each click,
thin early in the log; the whole log knows far more about every offer the logging policy
chose often, which is where the target usually puts its weight.
"""

from __future__ import annotations

import numpy as np

FOLDS = 5
"""Cross-fitting folds: each model sees 80 % of the log."""

SHRINK_ROUNDS = 100.0
"""Prior weight, in rounds, of the level above (offer for offer × source, log for offer).
At conversion rates of 1–3 %, 100 rounds hold one to three conversions: fewer own rounds
than that say little more than the level above."""


def cross_fitted_rewards(
    offer: np.ndarray, source: np.ndarray, reward: np.ndarray, query_round: np.ndarray, query_offer: np.ndarray
) -> np.ndarray:
    """q̂(query_offer, source of query_round), fitted without the fold of query_round.

    ``offer``, ``source`` (integer codes) and ``reward`` are per logged round;
    ``query_round``/``query_offer`` list the (round, offer) pairs to predict.
    """
    n = len(reward)
    fold = np.arange(n) % FOLDS
    offers, offer_code = np.unique(np.concatenate([offer, query_offer]), return_inverse=True)
    round_offer, query_offer_code = offer_code[:n], offer_code[n:]
    sources = int(source.max(initial=-1)) + 1
    query_fold = fold[query_round]

    levels = (
        (np.zeros(n, dtype=np.intp), np.zeros(len(query_round), dtype=np.intp), 1),  # the whole log
        (round_offer, query_offer_code, len(offers)),
        (round_offer * sources + source, query_offer_code * sources + source[query_round], len(offers) * sources),
    )
    prediction: np.ndarray | float = 0.0
    for level, (key, query_key, keys) in enumerate(levels):
        sums, counts = _other_folds(fold, key, reward, keys)
        weight = SHRINK_ROUNDS if level else 0.0  # the whole log's mean stands on its own
        numerator = sums[query_fold, query_key] + weight * prediction
        denominator = counts[query_fold, query_key] + weight
        prediction = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    return np.asarray(prediction)


def _other_folds(fold: np.ndarray, key: np.ndarray, reward: np.ndarray, keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of rewards per (fold, key), each taken over the *other* folds."""
    cell = fold * keys + key
    sums = np.bincount(cell, weights=reward, minlength=FOLDS * keys).reshape(FOLDS, keys)
    counts = np.bincount(cell, minlength=FOLDS * keys).reshape(FOLDS, keys).astype(np.float64)
    return sums.sum(axis=0) - sums, counts.sum(axis=0) - counts
