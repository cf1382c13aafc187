"""The seed's entry point, kept so that `uvicorn app:app` and `reset_stats()` still work.

State lives in the store configured by CPA_BANDIT_STORE (SQLite at data/cpa-bandit.db by
default); importing this module never clears it.
"""

from cpa_bandit.api import create_app

app = create_app()


def reset_stats() -> None:
    """Clear every click and counter, as the seed's function did."""
    app.state.service.reset()
