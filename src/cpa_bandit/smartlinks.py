"""Smartlinks: one URL per traffic partner that sends each visitor to the best offer.

An offer's landing URL is a template with macros, filled in per visitor and URL-encoded, as
networks' trackers fill theirs; a smartlink names the offers it rotates and how it decides
among them (sampler, parameters, holdout, traffic floor), where a visitor goes when nothing
can be chosen, and which of the visitor's query parameters carry the partner's click id and
source. Pure domain: the store keeps a smartlink as the JSON written here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from urllib.parse import quote, urlsplit

from .policies import PolicyParams, Sampler

NAME_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
MAX_URL_LENGTH = 2048
SUB_IDS = tuple(f"sub{i}" for i in range(1, 6))
MACROS = ("click_id", "offer_id", "source", "smartlink", *SUB_IDS)
"""What a landing URL template may name, in braces: ``{click_id}``, ``{sub1}`` …"""

_MACRO = re.compile(r"\{([^{}]*)\}")


class InvalidTemplate(ValueError):
    """A landing URL that cannot be filled in safely: said in one line for the 422."""


def check_template(template: str) -> str:
    """The template, if it names known macros only and fills in to an absolute http(s) URL."""
    if len(template) > MAX_URL_LENGTH:
        raise InvalidTemplate(f"a URL has at most {MAX_URL_LENGTH} characters")
    if unknown := sorted({name for name in _MACRO.findall(template) if name not in MACROS}):
        raise InvalidTemplate(
            f"unknown macro(s) {', '.join('{' + name + '}' for name in unknown)}; known: "
            + ", ".join("{" + name + "}" for name in MACROS)
        )
    bare = _MACRO.sub("x", template)
    if "{" in bare or "}" in bare:
        raise InvalidTemplate("a brace that opens or closes no macro; write a literal one as %7B or %7D")
    if any(not "!" <= c <= "~" for c in bare):  # printable ASCII only: a Location header is Latin-1 bytes
        raise InvalidTemplate(
            "a URL holds no spaces, control or non-ASCII characters; percent-encode them (a host in its xn-- form)"
        )
    parts = urlsplit(bare)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidTemplate("a landing URL is absolute, with the http or https scheme")
    return template


def checked_url(url: str | None) -> str | None:
    """``check_template`` of a URL that may be absent: the validator of every URL field the
    API takes (an ``InvalidTemplate`` is a ``ValueError``, which pydantic reports as a 422)."""
    return None if url is None else check_template(url)


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with each macro replaced by its URL-encoded value ('' when absent): a
    visitor's sub id cannot add a parameter or leave the query string."""
    return _MACRO.sub(lambda match: quote(values.get(match.group(1), ""), safe=""), template)


@dataclass(frozen=True, slots=True)
class Smartlink:
    """A smartlink as the registry keeps it (``PUT /smartlinks/{name}``)."""

    name: str
    offers: tuple[int, ...]
    sampler: Sampler = Sampler.thompson
    params: dict[str, float] = field(default_factory=dict)
    """The sampler's parameters: ``ucb_c``, ``thompson_a``, ``thompson_b``."""
    holdout: float = 0.0
    """Share of visitors served uniformly at random: the baseline of ``/uplift``."""
    min_share: float = 0.0
    """Least probability of each eligible offer."""
    fallback_url: str | None = None
    """Where a visitor goes when no offer can be chosen (else 404)."""
    click_id_param: str = "click_id"
    source_param: str = "source"

    def policy(self) -> PolicyParams:
        return PolicyParams(self.sampler, **self.params, min_share=self.min_share)  # type: ignore[arg-type]

    def to_json(self) -> str:
        spec = asdict(self)
        spec["sampler"] = self.sampler.value
        spec["offers"] = list(self.offers)
        return json.dumps(spec, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Smartlink:
        spec = json.loads(text)
        return cls(**{**spec, "sampler": Sampler(spec["sampler"]), "offers": tuple(spec["offers"])})
