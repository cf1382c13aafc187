"""Settings from the environment (prefix ``CPA_BANDIT_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .keys import KeyRing, Role, checked_key, parse_keys
from .postbacks import PostbackFormat

DEFAULT_STORE = "sqlite:///data/cpa-bandit.db"
ENV_PREFIX = "CPA_BANDIT_"


class ConfigError(ValueError):
    """A setting the service cannot start with, said in one line that names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    store: str = Field(
        DEFAULT_STORE, description="sqlite:///path.db | redis://host:port/db | redis+cluster://host:port | memory://"
    )
    store_timeout_ms: float = Field(
        200.0, gt=0, description="Redis: most time one store call may take before the request is answered without it."
    )
    redis_prefix: str = Field(
        "cpab", pattern=r"^[A-Za-z0-9._-]{1,32}$", description="Redis: prefix of every key (several deployments, one Redis)."
    )
    click_ttl_days: float = Field(
        90.0, gt=0, description="Redis: a click is kept this long after its decision (window + late conversions)."
    )
    decision_cache_ms: float = Field(
        5.0,
        ge=0,
        description="Staleness of decisions only: a worker counts its own decisions and feedback at once and reads"
        " other workers' and replicas' changes this long after its last read; 0 = read on every decision.",
    )
    group_commit_ms: float | None = Field(
        None,
        ge=0,
        le=100,
        description="How long a batch of writes waits for more before committing (a request waits at most this"
        " long for its batch); 0 = it commits as soon as the worker has served the requests at hand. Unset: 1 on"
        " SQLite, 0 on Redis (whose batches gather while the previous one waits for Redis).",
    )
    holdout_share: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of /sample/ clicks served uniformly at random among the eligible offers (by a hash of"
        " the click id): the holdout group that /uplift compares the bandit with. Smartlinks set their own.",
    )
    group_commit_max: int = Field(256, ge=1, description="Most writes committed in one batch (1 = no group commit).")
    store_retry_s: float = Field(
        1.0, gt=0, description="After the store failed a decision, decide from last known statistics this long."
    )
    admin_key: SecretStr | None = Field(
        None, description="An admin key, at least 16 characters (kept for compatibility; CPA_BANDIT_KEYS has roles)."
    )
    keys: SecretStr | None = Field(
        None, description='API keys with roles: "traffic=…,postback=…,read=…,admin=…" (each at least 16 characters).'
    )
    keys_file: Path | None = Field(None, description="A file of role=key lines, re-read when it changes.")
    max_offers: int = Field(1000, ge=1, description="Most offer ids one /sample/ request may list.")
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="NORMAL survives a process crash; FULL also survives power loss."
    )
    seed: int | None = Field(None, description="Seed for the policies' random generator (tests, replays).")
    attribution_window_days: float = Field(
        30.0, gt=0, description="A click without feedback for this long counts as a non-conversion for learning."
    )
    source_prior_clicks: float = Field(
        200.0,
        ge=0,
        description="How many clicks an offer's record on its other sources weighs, at most, in a source's prior.",
    )
    change_detection: bool = Field(
        True,
        description="Test each offer's hourly cohorts for a change of its conversion rate and forget its"
        " learning evidence from before a detected change (the lifetime counters never forget).",
    )
    maintenance_interval_s: float = Field(
        60.0, gt=0, description="How often expired clicks are swept and history past retention dropped."
    )
    decision_log_days: float = Field(
        40.0,
        ge=0,
        description="Decisions stay in the decision log (with their evidence, for `cpa-bandit export` and"
        " /uplift) this long; 0 = no decision log. Keep it longer than attribution_window_days, so that a click"
        " that expired without feedback is still there to count as the 0 it is, and within click_ttl_days on"
        " Redis: a click past its TTL has no outcome.",
    )
    postback_token: SecretStr | None = Field(
        None, description="Secret that postbacks must carry in the URL; unset = postbacks are not authenticated."
    )
    postback_token_param: str = Field("token", min_length=1, description="Query parameter that carries the token.")
    postback_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"parameter": "field"} over the default aliases; field "" drops an alias.'
        ' E.g. {"tid": "click_id"} for Offer18.',
    )
    postback_statuses: dict[str, Literal["pending", "approved", "rejected", "chargeback"]] = Field(
        default_factory=dict, description='JSON {"raw status": "pending|approved|rejected|chargeback"} over the defaults.'
    )
    currency: str = Field("USD", pattern=r"^[A-Za-z]{3}$", description="Currency of every amount the service keeps.")
    currency_rates: dict[str, float] = Field(
        default_factory=dict,
        description='JSON {"EUR": 1.08}: units of `currency` per unit of another; postbacks in others are refused.',
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="Level of the JSON log lines `cpa-bandit serve` writes to stderr (uvicorn's included)."
    )
    access_log: bool = Field(
        True, description="One JSON log line per request: id, route, path without query string, status, duration."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: object) -> object:
        """INFO as well as info: both spellings are common in deployment files."""
        return value.lower() if isinstance(value, str) else value

    def store_options(self) -> dict[str, object]:
        """The keyword arguments of ``store.open_store`` these settings imply."""
        return {
            "sqlite_synchronous": self.sqlite_synchronous,
            "click_ttl_s": self.click_ttl_days * 86_400.0,
            "timeout_s": self.store_timeout_ms / 1000,
            "redis_prefix": self.redis_prefix,
        }

    def key_ring(self) -> KeyRing:
        """Every configured key, under one rule; a bad one is a :class:`ConfigError`."""
        try:
            entries = parse_keys(self.keys.get_secret_value()) if self.keys else []
            if self.admin_key:
                entries.append((Role.admin, checked_key(self.admin_key.get_secret_value(), f"{ENV_PREFIX}ADMIN_KEY")))
            return KeyRing(entries, self.keys_file)
        except OSError as exc:
            raise ConfigError(f"{ENV_PREFIX}KEYS_FILE: cannot read {self.keys_file}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def postback_format(self) -> PostbackFormat:
        token = self.postback_token.get_secret_value() if self.postback_token else None
        return PostbackFormat.configured(
            self.postback_aliases, self.postback_statuses, self.currency, self.currency_rates, token, self.postback_token_param
        )


def load_settings(**overrides: object) -> Settings:
    """The settings, or a :class:`ConfigError` naming each bad variable: pydantic's report
    spans lines per error and names fields, where an operator edits environment variables."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"{ENV_PREFIX}{str(error['loc'][0]).upper()}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors(include_url=False)
        ]
        raise ConfigError("; ".join(problems)) from None
