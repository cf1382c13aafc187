"""The same postback from many concurrent clients, served by two worker processes: applied once.

Networks retry postbacks, and a retry can arrive while the first is still being applied, at
another worker. For each click, 16 threads released together send the same pending postback,
then the same approval, and for some clicks the approval races a rejection: whichever order
the workers take them in, the conversion must end approved once or rejected, never twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2e_harness import BanditServer

pytestmark = pytest.mark.e2e

THREADS = 16
CLICKS = 12
OFFER = 7
PAYOUT = 12.34


def burst(server: BanditServer, url: str) -> Counter:
    """Send ``url`` from every thread at once; the answers by (status code, duplicate)."""
    barrier = threading.Barrier(THREADS, timeout=30)

    def send(_: int) -> tuple[int, bool | None]:
        with server.client() as client:  # a connection each, so both workers take some
            barrier.wait()
            response = client.get(url)
        return response.status_code, response.json().get("duplicate")

    with ThreadPoolExecutor(THREADS) as pool:
        return Counter(pool.map(send, range(THREADS)))


def test_concurrent_duplicate_postbacks_apply_once(serve_bandit, tmp_path):
    server = serve_bandit(tmp_path / "postbacks.db", workers=2)
    with server.client() as client:
        for i in range(CLICKS):
            assert client.get("/sample/", params={"click_id": f"pb{i}", "offer_ids": str(OFFER)}).status_code == 200

    approved = 0
    for i in range(CLICKS):
        base = f"/postback?subid=pb{i}&tid=t{i}"
        assert burst(server, f"{base}&status=lead&payout={PAYOUT}") == {(200, False): 1, (200, True): THREADS - 1}
        if i % 3:
            answers = burst(server, f"{base}&status=sale")
            assert answers == {(200, False): 1, (200, True): THREADS - 1}, answers
            approved += 1
        else:
            # approval and rejection race: half the threads send each
            barrier = threading.Barrier(THREADS, timeout=30)

            def send(k: int, i: int = i, base: str = base) -> int:
                status = "sale" if k % 2 else "rejected"
                with server.client() as client:
                    barrier.wait()
                    return client.get(f"{base}&status={status}").status_code

            with ThreadPoolExecutor(THREADS) as pool:
                codes = Counter(pool.map(send, range(THREADS)))
            assert set(codes) <= {200, 409}, codes

    with server.client() as client:
        (row,) = client.get("/stats/", params={"offer_ids": str(OFFER)}).json()["offers"]
        assert (row["clicks"], row["pending_conversions"], row["pending_reward"]) == (CLICKS, 0, 0.0)
        assert row["conversions"] == approved, row  # every raced conversion ended rejected
        assert row["reward"] == pytest.approx(approved * PAYOUT, abs=1e-6)
        assert row["resolved"] >= approved
        counts = client.get("/postbacks/stats").json()
        # each click: one pending, then one approval, or in a race at most approve + reject
        assert counts["applied"] - 2 * CLICKS in range(0, CLICKS // 3 + 1), counts
        assert set(counts["refused"]) <= {"disallowed_move"}, counts
