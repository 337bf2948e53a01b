"""Settings: secrets never leak, redaction, the startup summary, generated docs and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import CONFIG_PATH_ENV, KNOBS, REDACTED, Settings, load_settings, redacted, startup_summary
from core.config_docs import DOC_PATH, main, render_docs
from core.config_knobs import GROUPS
from tests.core.test_config import SECRETS, load, write

# --- secrets ----------------------------------------------------------------------------------


def test_secrets_never_leak(tmp_path: Path) -> None:
    env = dict(SECRETS, MODE="live", DASHBOARD_HOST="0.0.0.0", SUPABASE_URL="https://x.supabase.co")
    s, warnings = load_settings(env)
    for env_name, secret in SECRETS.items():
        assert getattr(s, env_name.lower()) == secret
    summary = startup_summary(s)
    red = redacted(s)
    text = "\n".join(warnings) + summary + json.dumps(red)
    for secret in SECRETS.values():
        assert secret not in text
    for env_name in SECRETS:
        assert red[env_name.lower()] == REDACTED
    assert "kraken key set, secret set" in summary and "dashboard token set" in summary
    # A secret given with the wrong TOML type is reported without its value.
    path = write(tmp_path, "kraken_api_key = 123456789\n")
    _, warnings = load_settings({}, path)
    assert warnings == [f"KRAKEN_API_KEY: {REDACTED} from config file {path} is not text; using {REDACTED}"]
    assert "123456789" not in warnings[0]


def test_redacted_payload() -> None:
    s, _ = load(TELEGRAM_ALLOWED_CHAT_IDS="5,6")
    red = redacted(s)
    assert set(red) == {k.name for k in KNOBS}
    assert red["kraken_api_key"] == "" and red["entry_pct"] == 0.35
    assert red["telegram_allowed_chat_ids"] == [5, 6]
    assert red["slot_alias_pool"] == ["doge", "shiba", "floki", "cheems", "kabosu"]
    json.dumps(red)


def test_startup_summary_fits_one_screen() -> None:
    for env in ({}, {"MODE": "live", "STICKY_MODE_ENABLED": "1", "ORDER_SIZE_MODE": "DOGE"}):
        summary = startup_summary(load_settings(env)[0])
        lines = summary.splitlines()
        assert len(lines) <= 25
        for word in ("sticky", "release", "momentum", "regime", "sizing", "compounding", "healing",
                     "rebalancer", "guardrails", "mode", "venue"):
            assert word in summary
    assert "unset" in startup_summary(Settings())


# --- generated docs ---------------------------------------------------------------------------


def test_committed_doc_matches_generated() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_docs(), "run: python -m core.config --docs"


def test_doc_lists_every_knob() -> None:
    doc = render_docs()
    for knob in KNOBS:
        assert f"| `{knob.env}` | `{knob.name}` |" in doc
    for _gid, title, _blurb in GROUPS:
        assert f"## {title}" in doc
    assert "MAX_RECOVERY_SLOTS" in doc and "ordermin" in doc


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "configuration.md"
    assert main(["--docs", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_docs()
    assert main(["--check-docs"]) == 0
    for env_name in [k.env for k in KNOBS] + [CONFIG_PATH_ENV]:
        monkeypatch.delenv(env_name, raising=False)
    monkeypatch.setenv("ENTRY_PCT", "77")
    monkeypatch.setenv("KRAKEN_API_SECRET", SECRETS["KRAKEN_API_SECRET"])
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert "dogebot configuration" in printed and "warning: ENTRY_PCT" in printed
    assert SECRETS["KRAKEN_API_SECRET"] not in printed
