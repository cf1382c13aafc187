"""deploy/: the files an operator installs, checked against the real service.

- The Prometheus rules pass ``promtool check rules`` and their unit tests
  (``promtool test rules deploy/prometheus/alerts_test.yml``), and every alert has what an
  on-call person needs (``for:``, severity, summary, description, a runbook in docs/deploy.md).
- Every metric named by an alert or a Grafana panel is one that a real ``cpa-bandit serve``
  exports: its ``/metrics`` is scraped after real traffic (decisions, feedback, postbacks
  accepted, reversed and refused) and again while its Redis is down (store errors, unrecorded
  decisions), and the names are compared with the scraped sample names, suffixes included.
  Label names and the label values the rules select on must be in the scrape too.
- The systemd unit runs a real ``serve`` command line (parsed by the CLI itself) with the
  hardening asked of it, passes ``systemd-analyze verify`` and an offline security score where
  that tool works, and its env file example names only real settings, all of them, with
  values that the settings accept.
- The nginx example sets exactly the forwarded headers that the service believes, which a
  real server is shown to believe (and to ignore the others); where nginx is installed, the
  example runs for real in front of the service: TLS, HSTS, the 80 → 443 redirect, the client
  address and scheme forwarded, internal-only routes, body and query-string sizes, and an
  access log without query strings (postback tokens).

promtool comes from Debian's prometheus package (``make promtool``, a prerequisite of ``make
test``); without it these tests fail rather than skip.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx2
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from e2e_harness import free_port
from redis_servers import RedisServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "cpa-bandit.json"
UNIT = DEPLOY / "systemd" / "cpa-bandit.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "cpa-bandit.env.example"
NGINX = DEPLOY / "nginx" / "cpa-bandit.conf"
DOCS = ROOT / "docs" / "deploy.md"

TOKEN = "deploy-test-token-0123456789"
OFFERS = "1,2,3"
ADMIN = "deploy-test-admin-key-0123456789"

SYNTHETIC = {"up"}
"""Series that Prometheus makes itself for every target, not the service."""
TARGET_LABELS = {"job", "instance"}
"""Labels that Prometheus adds to every scraped series."""


# --- PromQL: the names an expression uses ----------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_IDENTIFIER = re.compile(r"(?<![\w.$:])([A-Za-z_:][\w:]*)\b(?!\s*\()")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}
_KEYWORDS |= {"inf", "nan"}
_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: what is left once strings, label matchers,
    ranges, label lists (``by (...)``), function names, keywords and numbers are taken out."""
    text = _MATCHERS.sub(" ", _STRING.sub('""', expr))
    text = _LABEL_LIST.sub(" ", _RANGE.sub(" ", text))
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def label_names(expr: str) -> set[str]:
    """Labels an expression groups or matches on."""
    names = {label.strip() for _, labels in _LABEL_LIST.findall(expr) for label in labels.split(",") if label.strip()}
    return names | {label for block in _MATCHERS.findall(expr) for label, _, _ in _MATCHER.findall(block)}


def positive_matchers(expr: str) -> list[tuple[str, list[str]]]:
    """``label="a"`` and ``label=~"a|b"`` matchers: the label and the patterns (regular
    expressions, one per alternative) of the values they select."""
    found = []
    for block in _MATCHERS.findall(expr):
        for label, op, value in _MATCHER.findall(block):
            if op == "=":
                found.append((label, [re.escape(value)]))
            elif op == "=~":
                found.append((label, value.split("|")))
    return found


def test_the_promql_name_parser_finds_names_and_only_names() -> None:
    expr = """histogram_quantile(0.99, sum by (job, le) (rate(a_seconds_bucket{route=~"/x|/y", le!="1"}[5m])))
        > 0.25 and on (job) group_left sum without (instance) (b_total offset 1d) > bool 1e3
        or absent(up{job="cpa-bandit"}) or vector(0) * max(c_gauge{job=~"$job"}[$__rate_interval])"""
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "up", "c_gauge"}
    assert label_names(expr) == {"job", "le", "instance", "route"}
    assert positive_matchers(expr) == [("route", ["/x", "/y"]), ("job", [r"cpa\-bandit"]), ("job", ["$job"])]


# --- the rules and the dashboard as files ----------------------------------------------------


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules and all("alert" in rule for rule in rules), "alerts.yml: alerting rules only"
    return rules


def _panels(panels: list[dict]) -> list[dict]:
    """Every panel, those inside (collapsed) rows included."""
    return [found for panel in panels for found in (panel, *_panels(panel.get("panels", [])))]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    board = dashboard()
    queries = [
        (f"panel {panel['id']} {panel.get('title')!r} target {target.get('refId')}", target["expr"])
        for panel in _panels(board["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            match = re.fullmatch(r"label_values\((?:(.+),)?\s*(\w+)\s*\)", query.strip())
            assert match, f"variable {variable['name']}: label_values(metric, label) expected, got {query!r}"
            queries.append((f"variable {variable['name']}", match.group(1) or ""))
    return queries


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: `make promtool` installs it (Debian's package `prometheus`,"
            " a prerequisite of `make test`)"
        )
    return path


def test_promtool_checks_the_alert_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout, done.stdout


def test_promtool_unit_tests_fire_every_alert() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", ALERT_TESTS.name],
        cwd=ALERT_TESTS.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    assert tests["rule_files"] == [ALERTS.name]
    cases = [case for test in tests["tests"] for case in test.get("alert_rule_test", [])]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fired == set(), "alerts that no unit test shows firing"
    assert names - silent == set(), "alerts that no unit test shows silent (before `for:`, or where they must not fire)"


def test_every_alert_tells_the_operator_what_and_where() -> None:
    docs = DOCS.read_text()
    alerts_section = re.search(r"^### Alerts\n(.*?)(?=^#{1,3} )", docs + "\n# end", re.M | re.S)
    assert alerts_section, "docs/deploy.md needs the '### Alerts' section that the runbook_url annotations name"
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: a `for:` duration"
        severity = rule.get("labels", {}).get("severity")
        assert severity in {"critical", "warning"}, f"{name}: severity critical or warning"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), f"{name}: summary and description"
        assert annotations.get("runbook_url") == "docs/deploy.md#alerts", f"{name}: runbook_url docs/deploy.md#alerts"
        assert f"`{name}`" in alerts_section.group(1), f"{name}: not explained in docs/deploy.md's Alerts section"


def test_the_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus(tmp_path: Path) -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41 and board["uid"] and board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = _panels(board["panels"])
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for source in (panel["datasource"], *(target["datasource"] for target in panel["targets"])):
            assert source == {"type": "prometheus", "uid": "${datasource}"}, f"panel {panel['title']!r}: {source}"
    # the asked-for views are there
    titles = " | ".join(panel["title"].lower() for panel in panels)
    for topic in ("requests/s by route and status", "p50 and p99", "decisions", "unrecorded", "conversions",
                  "revenue", "postbacks", "pending clicks", "store errors"):  # fmt: skip
        assert topic in titles, f"no panel about {topic!r}: {titles}"
    # every query is valid PromQL: promtool checks them as recording rules
    rules = [
        {"record": f"dashboard:query{n}", "expr": expr.replace("$__rate_interval", "5m").replace("$__range", "1h")}
        for n, (_, expr) in enumerate(dashboard_queries())
        if expr
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the real service's metrics --------------------------------------------------------------


def scrape(client: httpx2.Client) -> list:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def postback(client: httpx2.Client, path: str, click_id: str, status: str, token: str = TOKEN) -> httpx2.Response:
    params = {"subid": click_id, "tid": f"t-{click_id}", "status": status, "payout": 4.5, "token": token}
    return client.get(path, params=params)


def exported_series(serve_bandit, tmp_path: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(sample names, label values by label name) of a real server's /metrics after traffic of
    every kind, and while its store is down."""
    redis = RedisServer(tmp_path / "redis").start()
    try:
        server = serve_bandit(store=redis.url, env={"CPA_BANDIT_POSTBACK_TOKEN": TOKEN, "CPA_BANDIT_ADMIN_KEY": ADMIN})
        with server.client() as client:
            admin = {"X-API-Key": ADMIN}
            landing = {"url": "https://lp.example/?c={click_id}"}
            assert client.put("/offers/1", json=landing, headers=admin).status_code == 200
            assert client.put("/smartlinks/lp", json={"offers": [1]}, headers=admin).status_code == 200
            assert client.get("/go/lp", params={"click_id": "g1"}).status_code == 302
            assert client.get("/go/lp", headers={"Sec-Purpose": "prefetch"}).status_code == 503
            for n in range(6):
                params = {"click_id": f"d{n}", "offer_ids": OFFERS} | ({"source": "s1"} if n % 2 else {})
                assert client.get("/sample/", params=params).status_code == 200
            assert client.put("/feedback/", params={"click_id": "d0", "reward": 2.5}).status_code == 200
            assert postback(client, "/postback", "d1", "lead").json()["conversion_status"] == "pending"
            assert postback(client, "/postback.php", "d2", "approved").json()["conversion_status"] == "approved"
            assert postback(client, "/click.php", "d2", "chargeback").json()["conversion_status"] == "chargeback"
            refused = postback(client, "/postback", "d3", "approved", token="not-the-token-0123456789")
            assert refused.status_code == 403 and refused.json()["reason"] == "bad_token"
            assert client.get("/no/such/route").status_code == 404
            samples = scrape(client)

            redis.stop()  # the store goes away: decisions unrecorded, writes refused, errors counted
            degraded = client.get("/sample/", params={"click_id": "during-outage", "offer_ids": OFFERS})
            assert degraded.status_code == 200 and degraded.json().get("recorded") is False, degraded.text
            assert client.put("/feedback/", params={"click_id": "d4", "reward": 1}).status_code == 503
            samples += scrape(client)
    finally:
        redis.stop()
    names = {sample.name for sample in samples}
    values: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        for label, value in sample.labels.items():
            values[label].add(value)
    return names, values


def test_alerts_and_dashboard_name_only_what_the_service_exports(serve_bandit, tmp_path: Path) -> None:
    names, values = exported_series(serve_bandit, tmp_path)
    # the scrape itself has what the checks rely on: a broken traffic step must not make them vacuous
    for expected in (
        "cpa_bandit_store_errors_total",
        "cpa_bandit_degraded_decisions_total",
        "cpa_bandit_reversed_revenue_total",
        "cpa_bandit_http_request_duration_seconds_bucket",
    ):
        assert expected in names, f"the scrape lacks {expected}: {sorted(names)}"
    assert "refused" in values["outcome"] and "StoreUnavailable" in values["error"], values

    from cpa_bandit import domain

    queries = [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()] + dashboard_queries()
    problems = []
    for where, expr in queries:
        used = metric_names(expr)
        if not used and where.startswith("alert"):
            problems.append(f"{where}: no metric name found in {expr!r}")
        if unknown := used - names - SYNTHETIC:
            problems.append(f"{where}: not exported: {sorted(unknown)}")
        if unknown := label_names(expr) - values.keys() - TARGET_LABELS:
            problems.append(f"{where}: no such label: {sorted(unknown)}")
        for label, wanted in positive_matchers(expr):  # each value (or regex alternative) is seen
            unseen = [w for w in wanted if not any(re.fullmatch(w, seen) for seen in values[label])]
            if label not in TARGET_LABELS and unseen:
                problems.append(f"{where}: {label} never matches {unseen}: seen {sorted(values[label])}")
        for block in _MATCHERS.findall(expr):
            for label, op, value in _MATCHER.findall(block):
                if label == "error" and op in ("!=", "!~"):  # error class names, e.g. StoreBusy
                    classes = [getattr(domain, name, type) for name in value.split("|")]
                    if not all(issubclass(cls, domain.StoreUnavailable) for cls in classes):
                        problems.append(f"{where}: error {value!r} is not a StoreUnavailable class")
    assert not problems, "\n".join(problems) + f"\n\nexported: {sorted(names)}"
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    assert {"cpa_bandit_postbacks_total", "cpa_bandit_pending_clicks", "cpa_bandit_store_errors_total"} <= used


# --- systemd ---------------------------------------------------------------------------------


def unit_entries(text: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file's ``Key=value`` lines by section, repeated keys kept in order (systemd allows
    them; configparser would keep only the last)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"line {number}: no continuation lines, please"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None and re.fullmatch(r"[A-Za-z]+", key.strip()), f"line {number}: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def unit_environment(service: list[tuple[str, str]]) -> dict[str, str]:
    return dict(value.split("=", 1) for key, value in service if key == "Environment")


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
}


def test_the_systemd_unit_runs_serve_hardened() -> None:
    import typer.main

    from cpa_bandit.cli import app
    from cpa_bandit.keys import is_loopback

    sections = unit_entries(UNIT.read_text())
    assert {"Unit", "Service", "Install"} <= sections.keys()
    service = sections["Service"]
    single = {key: value for key, value in service}
    for key, value in HARDENING.items():
        assert single.get(key) == value, f"[Service] {key}={value} expected, found {single.get(key)!r}"
    # the command: the CLI's own parser must accept it
    argv = shlex.split(single["ExecStart"])
    assert argv[0].startswith("/") and argv[0].endswith("/cpa-bandit") and argv[1] == "serve", argv
    command = typer.main.get_command(app).commands["serve"]
    params = command.make_context("serve", argv[2:]).params
    assert is_loopback(params["host"]), "behind the proxy on this host: loopback (FORWARDED_ALLOW_IPS' default)"
    assert params["store"] is None, "the store comes from the environment, so the env file can switch it"
    # a dedicated user, its state directory, its settings
    assert single.get("User") not in (None, "", "root", "0") and single.get("DynamicUser", "no") == "no"
    assert single.get("EnvironmentFile") == "/etc/cpa-bandit/cpa-bandit.env"
    environment = unit_environment(service)
    writable = [f"/var/lib/{single['StateDirectory']}", f"/run/{single['RuntimeDirectory']}"]
    writable += single.get("ReadWritePaths", "").split()
    store = environment["CPA_BANDIT_STORE"]
    assert store.startswith("sqlite:///")
    db = Path(store.removeprefix("sqlite:///"))  # sqlite:/// then the absolute path
    assert db.is_absolute() and str(db.parent) in writable, f"{db}: ProtectSystem=strict leaves {writable} writable"
    assert str(Path(environment["PROMETHEUS_MULTIPROC_DIR"]).parent) in writable
    # restarts and a graceful stop: SIGTERM is what uvicorn drains on
    assert single.get("Restart") == "on-failure"
    assert single.get("KillSignal", "SIGTERM") == "SIGTERM" and single.get("KillMode") == "mixed"
    assert int(single.get("TimeoutStopSec", "0").removesuffix("s")) >= 10
    assert int(single["LimitNOFILE"]) >= 4096
    assert "ExecReload" not in single, "SIGHUP ends a one-worker uvicorn: no reload"


def _systemd_analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=60)


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (test_the_systemd_unit_runs_serve_hardened checks the unit)")
    probe = tmp_path / "probe.service"
    probe.write_text("[Service]\nExecStart=/bin/true\n")
    if _systemd_analyze("verify", "--man=no", str(probe)).returncode != 0:
        pytest.skip("systemd-analyze verify does not work here (test_the_systemd_unit_runs_serve_hardened checks)")
    # the unit as installed, but with the executable this test run has (verify checks it exists)
    text = UNIT.read_text()
    executable = Path(sys.executable).parent / "cpa-bandit"
    assert executable.exists(), executable
    installed = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
    unit = tmp_path / "cpa-bandit.service"
    unit.write_text(text.replace(f"ExecStart={installed}", f"ExecStart={executable}"))
    done = _systemd_analyze("verify", "--man=no", str(unit))
    # unknown keys and unparsable values are only warnings: any line about the unit fails it
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "cpa-bandit.service" in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr
    security = _systemd_analyze("security", "--offline=yes", "--threshold=20", "--no-pager", str(unit))
    if "--offline" in security.stderr and "unrecognized" in security.stderr:
        return  # systemd < 250: no offline security report
    exposure = re.search(r"Overall exposure level for cpa-bandit\.service: ([\d.]+)", security.stdout)
    assert security.returncode == 0 and exposure, security.stdout[-2000:] + security.stderr
    assert float(exposure.group(1)) <= 2.0, security.stdout[-3000:]


def env_example() -> tuple[dict[str, str], dict[str, str]]:
    """(set, commented) ``NAME=value`` lines of the env file example, quotes removed as systemd does."""
    active, commented = {}, {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"(#)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            value = match.group(3)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            (commented if match.group(1) else active)[match.group(2)] = value
    return active, commented


def test_the_env_file_example_names_every_real_setting_and_only_those(monkeypatch: pytest.MonkeyPatch) -> None:
    from cpa_bandit.config import Settings

    active, commented = env_example()
    named = active.keys() | commented.keys()
    real = {f"CPA_BANDIT_{field.upper()}" for field in Settings.model_fields}
    others = {"FORWARDED_ALLOW_IPS"}  # uvicorn's own, read because serve leaves it to uvicorn
    assert named - real - others == set(), "not settings of the service"
    assert real - named == set(), "settings the example leaves out"
    assert not any(re.search(r"[A-Za-z0-9_-]{24,}", value) for value in [*active.values(), *commented.values()]), (
        "a secret-looking value: the example must hold placeholders only"
    )
    # every value shown, uncommented, is accepted by the settings (with the unit's Environment=)
    for name in list(os.environ):
        if name.startswith("CPA_BANDIT_"):
            monkeypatch.delenv(name)
    environment = unit_environment(unit_entries(UNIT.read_text())["Service"])
    for name, value in {**environment, **commented, **active}.items():
        if name.startswith("CPA_BANDIT_"):
            monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert str(settings.keys_file) == active["CPA_BANDIT_KEYS_FILE"]
    assert settings.store == commented["CPA_BANDIT_STORE"] == environment["CPA_BANDIT_STORE"]


# --- nginx -----------------------------------------------------------------------------------

BELIEVED = {"X-Forwarded-For": "$remote_addr", "X-Forwarded-Proto": "$scheme", "Host": "$host"}
"""The forwarded headers the service believes (uvicorn's proxy headers from FORWARDED_ALLOW_IPS,
and Host in its redirects), as nginx must set them: the client's own address, never a list a
client could have started."""


def nginx_headers() -> dict[str, str]:
    return dict(re.findall(r"^\s*proxy_set_header\s+(\S+)\s+(.+?)\s*;", NGINX.read_text(), re.M))


def test_nginx_sets_exactly_the_headers_the_service_believes_and_its_limits() -> None:
    import uvicorn

    from cpa_bandit.api.limits import Limits
    from cpa_bandit.config import Settings

    conf = NGINX.read_text()
    headers = nginx_headers()
    # X-Request-ID: the service reuses a plain token as its request id; Connection "": keep-alive upstream
    assert headers == BELIEVED | {"X-Request-ID": "$cpa_bandit_request_id", "Connection": '""'}, headers
    assert "proxy_add_x_forwarded_for" not in conf, "appending lets a client start the list"
    log_formats = re.findall(r"^log_format\s+\S+\s+(.*?);", conf, re.M | re.S)
    assert log_formats and re.findall(r"access_log\s+\S+\s+(\S+);", conf) == ["cpa_bandit", "cpa_bandit"]
    for log_format in log_formats:
        leaks = re.findall(r"\$(request_uri|request|args|query_string|arg_\w+|http_referer)\b", log_format)
        assert not leaks and "$uri" in log_format, f"the access log must not carry query strings: {leaks}"
    body = re.search(r"client_max_body_size\s+(\d+)k;", conf)
    assert body and int(body.group(1)) * 1024 == Limits().body_bytes
    buffers = re.search(r"large_client_header_buffers\s+\d+\s+(\d+)k;", conf)
    longest = Limits.for_offers(Settings(_env_file=None).max_offers).query_bytes + len("GET /sample/? HTTP/1.1")
    assert buffers and int(buffers.group(1)) * 1024 >= longest, "the longest query string must fit a header buffer"
    keepalive = re.search(r"keepalive_timeout\s+(\d+)s;", conf)
    uvicorn_keepalive = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    assert keepalive and int(keepalive.group(1)) < uvicorn_keepalive, "nginx must drop idle connections before uvicorn"
    for location in ("= /metrics", "/admin/"):
        block = re.search(r"location %s \{(.*?)\n    \}" % re.escape(location), conf, re.S)
        assert block and "deny all;" in block.group(1), f"location {location}: internal addresses only"


def test_the_service_believes_those_headers_and_no_others(serve_bandit) -> None:
    """Had the service believed another header (X-Real-IP, Forwarded, X-Forwarded-Host),
    nginx would have to set it too: this fails first."""
    server = serve_bandit()
    with server.client() as client:
        # no keys configured: /stats/ serves loopback clients only, so the client's address shows
        assert client.get("/stats/").status_code == 200
        assert client.get("/stats/", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
        ignored = (("X-Real-IP", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"), ("Client-IP", "203.0.113.9"))
        for header, value in ignored:
            assert client.get("/stats/", headers={header: value}).status_code == 200, f"{header} is believed now"
        # scheme and host of the service's redirects
        forwarded = {"Host": "bandit.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
        redirect = client.get("/sample", params={"click_id": "r1", "offer_ids": OFFERS}, headers=forwarded)
        assert redirect.status_code == 307
        assert redirect.headers["location"].startswith("https://bandit.example.com/sample/?"), redirect.headers
        # the request id of the service's log lines
        assert client.get("/healthz", headers={"X-Request-ID": "nginx-0123"}).headers["x-request-id"] == "nginx-0123"


def _replaced(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/nginx/cpa-bandit.conf no longer has {old!r}: update this test"
    return text.replace(old, new)


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(f"nginx exited with {process.returncode}:\n{text}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    pytest.fail("nginx did not listen within 10 s")


def test_the_nginx_example_in_front_of_the_real_service(serve_bandit, tmp_path: Path) -> None:
    if shutil.which("nginx") is None or shutil.which("openssl") is None:
        pytest.skip("nginx (Debian's nginx-light) or openssl is not installed; the static checks above still ran")
    server = serve_bandit(env={"CPA_BANDIT_POSTBACK_TOKEN": TOKEN})
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    cert, key = prefix / "cert.pem", prefix / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bandit.example.com",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:bandit.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    tls_port, http_port = free_port(), free_port()
    site = NGINX.read_text()
    site = _replaced(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;")
    site = _replaced(site, "listen [::]:443 ssl http2;", "")
    site = _replaced(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = _replaced(site, "listen [::]:80;", "")
    site = _replaced(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};")
    site = _replaced(site, "/etc/ssl/cpa-bandit/fullchain.pem", str(cert))
    site = _replaced(site, "/etc/ssl/cpa-bandit/privkey.pem", str(key))
    site = _replaced(site, "/var/log/nginx/cpa-bandit.access.log", str(prefix / "logs" / "access.log"))
    (prefix / "site.conf").write_text(site)
    error_log = prefix / "logs" / "error.log"
    (prefix / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {prefix}/nginx.pid;\nerror_log {error_log} warn;\nevents {{ worker_connections 64; }}\n"
        + f"http {{\n    include {prefix}/site.conf;\n}}\n"
    )
    nginx = ["nginx", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")]
    checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(nginx, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(tls_port, process, error_log)
        tls = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{tls_port}"
        host = {"Host": "bandit.example.com"}
        inside = httpx2.Client(base_url=base, verify=tls, headers=host, timeout=10)
        outside = httpx2.Client(  # 127.0.0.2: loopback to the service, not internal to nginx's lists
            base_url=base, headers=host, timeout=10,
            transport=httpx2.HTTPTransport(verify=tls, local_address="127.0.0.2"),
        )  # fmt: skip
        with inside, outside:
            health = inside.get("/healthz", headers={"X-Request-ID": "deploy-rid-1"})
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert health.headers["strict-transport-security"].startswith("max-age=")
            assert health.headers["x-request-id"] == "deploy-rid-1"
            odd = inside.get("/healthz", headers={"X-Request-ID": "not a token!"})
            nginx_id = odd.headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", nginx_id), "nginx's own id, which the service took"
            # nginx replaces a client's X-Forwarded-For: a forged address does not reach the service
            assert inside.get("/stats/", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
            # scheme and host forwarded: the service's redirect points at https://<host>/
            redirect = inside.get("/sample", params={"click_id": "n1", "offer_ids": OFFERS})
            assert redirect.status_code == 307
            assert redirect.headers["location"].startswith("https://bandit.example.com/sample/?"), redirect.headers
            # a click, and a postback whose token must not reach nginx's log
            assert inside.get("/sample/", params={"click_id": "n2", "offer_ids": OFFERS}).status_code == 200
            converted = inside.get("/postback", params={"subid": "n2", "tid": "tx9", "status": "lead", "token": TOKEN})
            assert converted.status_code == 200, converted.text
            # the longest /sample/ the service takes fits nginx's buffers; a body over 64 KiB does not pass
            many = ",".join(str(10**18 + n) for n in range(1000))
            assert inside.get("/sample/", params={"click_id": "n3", "offer_ids": many}).status_code == 200
            too_big = inside.put("/feedback/", params={"click_id": "n2", "reward": 1}, content=b"x" * 70_000)
            assert too_big.status_code == 413 and "nginx" in too_big.text
            assert inside.get("/sample/", params={"click_id": "n4", "offer_ids": OFFERS}).status_code == 200
            fits = inside.put("/feedback/", params={"click_id": "n4", "reward": 1}, content=b"x" * 60_000)
            assert fits.status_code == 200 and fits.json()["click_id"] == "n4", fits.text
            # internal-only routes: refused by nginx from elsewhere, passed on from inside
            internal = (("GET", "/metrics"), ("POST", "/admin/reset"), ("PUT", "/offers/7"), ("DELETE", "/smartlinks/x"))
            for method, path in internal:
                refused = outside.request(method, path, json={"payout": 1} if method == "PUT" else None)
                assert refused.status_code == 403 and "nginx" in refused.text, (method, path, refused.text)
            assert outside.get("/offers").status_code == 200, "registry reads are not restricted"
            assert outside.get("/healthz").status_code == 200
            assert inside.get("/metrics").status_code == 200
            reset = inside.post("/admin/reset")  # passed on: the service refuses it (no admin key)
            assert reset.json()["detail"].startswith("admin routes are disabled"), reset.text
        # plain HTTP: redirected to HTTPS, query string kept, and not logged either
        with httpx2.Client(base_url=f"http://127.0.0.1:{http_port}", headers=host, timeout=10) as plain:
            moved = plain.get("/postback", params={"subid": "n2", "token": TOKEN})
            assert moved.status_code == 301
            assert moved.headers["location"] == f"https://bandit.example.com/postback?subid=n2&token={TOKEN}"
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: lets it finish writing its log
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log = (prefix / "logs" / "access.log").read_text()
    assert '"GET /postback HTTP/1.1" 200' in log and '"GET /postback HTTP/1.1" 301' in log, log
    assert TOKEN not in log and "token=" not in log and "offer_ids" not in log, log
    assert "rid=deploy-rid-1" in log and f"rid={nginx_id}" in log, log
    service_log = server.log_text()
    assert TOKEN not in service_log
