"""The policy under evaluation: what it would have chosen on each logged click.

A logged row carries the statistics the service saw when it decided (its ``Evidence``), so
any sampler and setting can be asked the same question the logging policy answered: with
this evidence, how likely was each eligible offer? ``random`` (uniform over the eligible
offers) is the no-learning baseline every bandit should beat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum

import numpy as np

from ..decision_log import evidence_stats
from ..domain import Evidence
from ..policies import PolicyParams, Sampler, choice_probabilities


class TargetPolicy(str, Enum):
    ucb = "ucb"
    thompson = "thompson"
    random = "random"


PARAMETERS: dict[TargetPolicy, dict[str, tuple[float, bool]]] = {
    TargetPolicy.ucb: {"ucb_c": (0.0, True)},
    TargetPolicy.thompson: {"thompson_a": (0.0, False), "thompson_b": (0.0, False)},
    TargetPolicy.random: {},
}
"""Each policy's parameters: (lower bound, whether the bound itself is allowed), the same
ranges ``/sample/`` accepts (``ucb_c`` >= 0, Thompson's prior > 0)."""

_DEFAULTS = {f.name: f.default for f in fields(PolicyParams)}


@dataclass(frozen=True, slots=True)
class Target:
    """A policy to evaluate: a service sampler with its parameters, or uniform random."""

    policy: TargetPolicy
    params: dict[str, float]

    @classmethod
    def parse(cls, policy: str, assignments: Sequence[str] = ()) -> Target:
        """From the command line: ``thompson`` and ``["thompson_a=2", ...]``. Raises
        ``ValueError`` with a message for the user on an unknown policy or parameter, a
        parameter of another policy, a repeated one or a value out of range; parameters
        not given take the service's defaults (Thompson's prior, left out, is learned)."""
        try:
            chosen = TargetPolicy(policy)
        except ValueError:
            raise ValueError(
                f"unknown policy {policy!r}; choose from {', '.join(p.value for p in TargetPolicy)}"
            ) from None
        values: dict[str, str] = {}
        for assignment in assignments:
            name, sep, value = assignment.partition("=")
            name = name.strip()
            if not sep or not name:
                raise ValueError(f"--param {assignment!r} is not NAME=VALUE")
            if name in values:
                raise ValueError(f"--param {name} is given twice")
            values[name] = value
        allowed = PARAMETERS[chosen]
        if unknown := sorted(set(values) - set(allowed)):
            accepted = ", ".join(allowed) or "none"
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {policy}; it takes: {accepted}")
        given = {name: _checked(name, values[name], *allowed[name]) for name in allowed if name in values}
        if chosen is TargetPolicy.thompson and given:  # one of the prior's two sent: the seed's 1 for the other
            given = {"thompson_a": 1.0, "thompson_b": 1.0} | given
        return cls(chosen, {name: _DEFAULTS[name] for name in allowed if _DEFAULTS[name] is not None} | given)

    @property
    def policy_params(self) -> PolicyParams | None:
        """The sampler's parameters as the service takes them; None for random."""
        if self.policy is TargetPolicy.random:
            return None
        return PolicyParams(Sampler(self.policy.value), **self.params)

    def probabilities(self, evidence: Evidence) -> np.ndarray:
        """The probability of choosing each of ``evidence.offers`` (Thompson: by the same
        integration as the logged propensities, within 0.008 of the exact value)."""
        params = self.policy_params
        if params is None:
            return np.full(len(evidence.offers), 1.0 / len(evidence.offers))
        return choice_probabilities(evidence_stats(evidence), params)

    def describe(self) -> str:
        settings = ", ".join(f"{name}={value:g}" for name, value in self.params.items())
        return f"{self.policy.value}({settings})" if settings else self.policy.value


def _checked(name: str, raw: str, bound: float, inclusive: bool) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < bound or (value == bound and not inclusive):
        raise ValueError(f"{name} must be a finite number {'>=' if inclusive else '>'} {bound:g}, got {raw!r}")
    return value


def logging_support(sampler: str, params: dict[str, float | str], evidence: Evidence) -> np.ndarray:
    """Which offers the logging policy could have chosen on this evidence.

    UCB is deterministic up to ties: only its leaders had a positive probability, so the
    logged propensities say nothing about what another policy's other choices would have
    earned. Thompson gives every offer whose posterior can lead a positive probability, and
    all its offers are counted as supported: the ones it leaves out lie below a rival beyond
    1e-9 of their tails, where only a target with a very different prior could put weight,
    and telling them apart would cost a second integration per round.
    """
    if sampler != Sampler.ucb.value:
        return np.ones(len(evidence.offers), dtype=bool)
    return choice_probabilities(evidence_stats(evidence), PolicyParams.from_dict(params)) > 0
