"""The pure command language: parser parity with the HTTP API, formatting helpers."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from actors.alerts import Alert
from actors.commands import CommandReply, command_decoder
from actors.telegram_commands import (
    COMMANDS,
    Execute,
    Picker,
    Query,
    Reply,
    age,
    available,
    chunk,
    format_alert,
    format_reply,
    parse_callback,
    parse_command,
)


def _api_accepts(body: dict[str, object]) -> bool:
    try:
        command_decoder.decode(json.dumps(body))
    except msgspec.ValidationError:
        return False
    return True


def _tg_accepts(text: str, sticky: bool = False) -> bool:
    parsed = parse_command(text, bot_username="doge_slots_bot", sticky=sticky)
    assert isinstance(parsed, Execute | Reply), parsed
    return isinstance(parsed, Execute)


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_percent_ranges_match_the_api_exactly(value: float) -> None:
    for name in ("set_entry_pct", "set_profit_pct"):
        assert _tg_accepts(f"/{name} {value!r}") == _api_accepts({"action": name, "value": value})


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_loss_limit_range_matches_the_api_exactly(value: float) -> None:
    assert _tg_accepts(f"/set_loss_limit {value!r}") == _api_accepts({"action": "set_loss_limit", "value": value})


@given(st.integers(min_value=0, max_value=10**10))
def test_slot_id_ranges_match_the_api_exactly(value: int) -> None:
    assert _tg_accepts(f"/remove_slot {value}") == _api_accepts({"action": "remove_slot", "slot_id": value})
    assert _tg_accepts(f"/release {value}", sticky=True) == _api_accepts({"action": "release_slot",
                                                                          "slot_id": value})


# Whitespace separates arguments (an alias cannot contain it), so aliases are drawn without it.
@given(st.text(alphabet=st.characters(codec="ascii").filter(lambda c: not c.isspace()), min_size=1,
               max_size=40))
def test_alias_rules_match_the_api_exactly(alias: str) -> None:
    assert _tg_accepts(f"/add_slot {alias}") == _api_accepts({"action": "add_slot", "alias": alias})


def test_pause_reason_keeps_its_spacing() -> None:
    parsed = parse_command("/pause  going   out ", bot_username=None, sticky=False)
    assert isinstance(parsed, Execute)
    assert parsed.command.reason == "going   out"  # type: ignore[attr-defined]


def test_parse_shapes() -> None:
    assert parse_command("hello", bot_username="b", sticky=False) is None
    assert parse_command("/status@B", bot_username="b", sticky=False) == Query("status")
    assert parse_command("/STATUS", bot_username="b", sticky=False) == Query("status")
    assert parse_command("/soft_close", bot_username="b", sticky=False) == Picker()
    assert parse_command("/soft_close", bot_username="b", sticky=True) == Reply(
        "Unknown command /soft_close. Send /help for the list.")


def test_every_command_is_in_exactly_the_right_modes() -> None:
    legacy = {c.name for c in available(False)}
    sticky = {c.name for c in available(True)}
    assert legacy ^ sticky == {"soft_close", "release"}
    assert "soft_close" in legacy and "release" in sticky
    assert legacy | sticky == {c.name for c in COMMANDS}


def test_callback_data_contract() -> None:
    cmd = parse_callback("sc:3:17", sticky=False)
    assert cmd is not None and (cmd.slot_id, cmd.recovery_id) == (3, 17)
    assert parse_callback("sc:3:17", sticky=True) is None
    assert parse_callback("sc:2000000:1", sticky=False) is None  # beyond the API's slot id range
    assert parse_callback(None, sticky=False) is None


def test_chunk_never_exceeds_the_limit_and_keeps_every_line() -> None:
    lines = [f"line {i} " + "x" * (i % 50) for i in range(500)] + ["y" * 5000]
    parts = chunk(lines, limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    joined = "\n".join(parts).split("\n")
    assert joined[:500] == lines[:500]
    assert joined[500].startswith("yyy") and joined[500].endswith("…")


def test_age_format() -> None:
    assert [age(s) for s in (0, 59, 119, 120, 3599, 7200, 7260, 172800, 200000)] == [
        "0s", "59s", "119s", "2m", "59m", "2h00m", "2h01m", "2d0h", "2d7h"]


def test_alert_and_reply_formatting() -> None:
    halt = Alert(kind="halt", message="slot 3: S2 needs one exit per side", ts=1.0, severity="critical")
    assert format_alert(halt) == "🛑 HALT: slot 3: S2 needs one exit per side"
    drift = Alert(kind="drift_on", message="kraken 40 vs internal 30", ts=1.0, slot_id=None)
    assert format_alert(drift, 3) == "⚠️ OPEN-ORDER DRIFT: kraken 40 vs internal 30 (+3 similar suppressed)"
    boot = Alert(kind="cannot_bootstrap", message="needs 60 DOGE", ts=1.0, slot_id=4)
    assert format_alert(boot) == "⚠️ CANNOT BOOTSTRAP (slot #4): needs 60 DOGE"
    assert format_reply(CommandReply(ok=True, action="pause", message="")) == "✅ pause"
