"""Which clicks form the holdout group: the baseline the bandit's uplift is measured against.

Membership is a hash of the click id, not a random draw: a retried click id lands in the
same group (it gets its first answer anyway), any replica decides alike, and the split is
independent of everything the policy sees, so the two groups are the same traffic.
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def holdout_point(click_id: str) -> float:
    """A click id's place in [0, 1), uniform over click ids."""
    digest = hashlib.blake2b(click_id.encode(), digest_size=8, person=b"cpab-holdout").digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_holdout(click_id: str, share: float) -> bool:
    return share > 0 and holdout_point(click_id) < share
