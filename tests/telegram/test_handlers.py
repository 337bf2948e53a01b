"""Every command through the real PTB handlers: Update JSON in, Bot API calls and commands out."""

from __future__ import annotations

import logging

import pytest

from actors.commands import (
    AddSlot,
    CommandReply,
    Pause,
    ReleaseSlot,
    RemoveSlot,
    Resume,
    SetEntryPct,
    SetLossLimit,
    SetProfitPct,
    SoftClose,
)
from actors.telegram_outbox import TelegramLimits
from tests.telegram.fakes import (
    ALLOWED,
    ALLOWED_GROUP,
    FOREIGN,
    RecordingHandler,
    callback_update,
    command_update,
    settings,
    slot,
    snapshot,
)
from tests.telegram.harness import FAST, Harness, run

LEGACY_HELP = {"/status", "/slots", "/pause", "/resume", "/add_slot", "/remove_slot", "/set_entry_pct",
               "/set_profit_pct", "/set_loss_limit", "/soft_close", "/help"}
STICKY_HELP = (LEGACY_HELP - {"/soft_close"}) | {"/release"}


def _one(text: str, chat_id: int = ALLOWED, chat_type: str = "private",
         **kw: object) -> tuple[list[str], Harness]:
    async def go() -> tuple[list[str], Harness]:
        async with Harness(**kw) as h:  # type: ignore[arg-type]
            return await h.command(text, chat_id, chat_type=chat_type), h
    return run(go)


@pytest.mark.parametrize(("text", "command"), [
    ("/pause lunch break", Pause(reason="lunch break")),
    ("/pause", Pause()),
    ("/resume", Resume()),
    ("/add_slot rex", AddSlot(alias="rex")),
    ("/add_slot", AddSlot()),
    ("/remove_slot 3", RemoveSlot(slot_id=3)),
    ("/remove_slot #3", RemoveSlot(slot_id=3)),
    ("/set_entry_pct 0.5", SetEntryPct(value=0.5)),
    ("/set_entry_pct 0.5%", SetEntryPct(value=0.5)),
    ("/set_profit_pct 1.2", SetProfitPct(value=1.2)),
    ("/set_loss_limit 12.5", SetLossLimit(value=12.5)),
    ("/set_loss_limit $0", SetLossLimit(value=0.0)),
    ("/soft_close 2 21", SoftClose(slot_id=2, recovery_id=21)),
    (f"/resume@{'doge_slots_bot'}", Resume()),
])
def test_state_changing_commands_reach_the_runtime_as_the_api_structs(text: str, command: object) -> None:
    replies, h = _one(text)
    assert h.handler.commands == [command]
    action = type(command).__struct_config__.tag  # type: ignore[attr-defined]
    assert replies == [f"✅ {action} done"]
    assert [p["chat_id"] for p in h.fake.sent()] == [ALLOWED]
    # The blocking handler ran on the worker thread, never on the event loop.
    assert h.handler.threads == ["telegram-cmd_0"]


def test_refused_command_reply_is_relayed() -> None:
    handler = RecordingHandler(lambda c: CommandReply(ok=False, action="resume",
                                                      message="resume blocked: daily loss lock active"))
    replies, _ = _one("/resume", handler=handler)
    assert replies == ["❌ resume blocked: daily loss lock active"]


def test_status_is_a_compact_summary_of_the_cached_snapshot() -> None:
    replies, h = _one("/status")
    assert h.handler.commands == []
    (text,) = replies
    lines = text.split("\n")
    assert lines[0] == "🟢 RUNNING · sim"
    assert lines[1] == "Price 0.12301 (4s old)"
    assert lines[2].startswith("P&L today +$0.42 · total +$0.75")
    assert lines[3] == "Slots 2: S0 1 · S1a 1"
    assert lines[4] == "Orders 4/168 · headroom 164 · band normal"
    assert lines[5] == "Loss lock off (today's loss $0.50 of $3.00)"


def test_status_says_why_paused_and_shows_the_loss_lock() -> None:
    snap = snapshot(mode="PAUSED", pause_reason="daily loss lock", lock=True,
                    slots=[slot(1, "doge", "S2", halted=True)])
    (text,), _ = _one("/status", status=snap)
    assert text.startswith("🟡 PAUSED: daily loss lock · sim")
    assert "Slots 1: S2 1 · 1 halted" in text
    assert "Loss lock ON (2026-01-01): loss $3.20 >= $3.00, resume blocked" in text


def test_status_before_the_first_snapshot() -> None:
    (text,), _ = _one("/status", status=None)
    assert text.startswith("No status from the runtime yet")


def test_slots_lists_one_line_per_slot() -> None:
    (text,), _ = _one("/slots")
    assert text.split("\n") == [
        "Slots (2):",
        "#1 doge S0 · 2 orders · P&L +$1.25",
        "#2 shiba S1a · 2 orders · 2 rec · P&L -$0.50",
    ]


def test_many_slots_are_split_into_messages_telegram_accepts() -> None:
    snap = snapshot(slots=[slot(i, f"doge-{i:02d}", "S1b", 0.1 * i) for i in range(300)])
    replies, _ = _one("/slots", status=snap)
    assert len(replies) > 1
    assert all(len(r) <= 4096 for r in replies)
    lines = [line for r in replies for line in r.split("\n")]
    assert len(lines) == 301 and lines[-1].startswith("#299 doge-299 S1b")


def _help_commands(text: str) -> set[str]:
    return {line.split()[0] for line in text.split("\n")[1:]}


def test_help_lists_exactly_the_legacy_commands() -> None:
    (text,), _ = _one("/help")
    assert _help_commands(text) == LEGACY_HELP


def test_start_shows_help() -> None:
    (text,), _ = _one("/start")
    assert _help_commands(text) == LEGACY_HELP


BAD_ARGUMENTS = [
    "/remove_slot", "/remove_slot x", "/remove_slot -1", "/remove_slot 1.5", "/remove_slot 2000000",
    "/remove_slot 1 2",
    "/set_entry_pct", "/set_entry_pct abc", "/set_entry_pct 0", "/set_entry_pct -1", "/set_entry_pct 50.01",
    "/set_entry_pct nan", "/set_entry_pct inf", "/set_entry_pct 1 2",
    "/set_profit_pct", "/set_profit_pct x", "/set_profit_pct 0", "/set_profit_pct 75",
    "/set_loss_limit", "/set_loss_limit -1", "/set_loss_limit x", "/set_loss_limit nan", "/set_loss_limit 2000000",
    "/soft_close 1", "/soft_close a b", "/soft_close 1 -2", "/soft_close 1 2 3",
    "/resume now", "/add_slot bad!alias", "/add_slot two words", "/pause " + "x" * 201,
]


@pytest.mark.parametrize("text", BAD_ARGUMENTS)
def test_bad_arguments_get_a_one_line_usage_and_change_nothing(text: str) -> None:
    replies, h = _one(text)
    assert h.handler.commands == []
    (reply,) = replies
    name = text.split()[0]
    assert reply.startswith(f"Usage: {name}")
    assert "\n" not in reply


def test_usage_shows_the_api_range() -> None:
    (reply,), _ = _one("/set_entry_pct 75")
    assert reply == "Usage: /set_entry_pct <value> (value > 0 and <= 50)"


def test_unknown_command() -> None:
    (reply,), h = _one("/moon")
    assert reply == "Unknown command /moon. Send /help for the list."
    assert h.handler.commands == []


def test_commands_for_another_bot_are_ignored() -> None:
    replies, h = _one("/pause@other_bot")
    assert replies == [] and h.handler.commands == []


def test_group_chat_on_the_allow_list_is_answered() -> None:
    replies, h = _one("/pause desk", chat_id=ALLOWED_GROUP, chat_type="supergroup")
    assert h.handler.commands == [Pause(reason="desk")]
    assert [p["chat_id"] for p in h.fake.sent()] == [ALLOWED_GROUP]
    assert replies == ["✅ pause done"]


def test_foreign_chat_gets_nothing_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="actors.telegram")

    async def go() -> Harness:
        async with Harness() as h:
            for i, text in enumerate(["/pause", "/status", "/resume", "/help"]):
                assert await h.command(text, chat_id=FOREIGN, update_id=1000 + i) == []
            await h.feed(callback_update("sc:2:21", chat_id=FOREIGN))
            await h.command("/status", chat_id=FOREIGN + 1)
            return h

    h = run(go)
    assert h.handler.commands == []
    # No reply of any kind: no message, no callback answer, no edit.
    assert [e for e in h.fake.endpoints() if e != "getMe"] == []
    logged = [r.getMessage() for r in caplog.records if "not in TELEGRAM_ALLOWED_CHAT_IDS" in r.getMessage()]
    assert len(logged) == 2
    assert str(FOREIGN) in logged[0] and str(FOREIGN + 1) in logged[1]


def test_empty_allow_list_answers_nobody() -> None:
    replies, h = _one("/pause", s=settings(TELEGRAM_ALLOWED_CHAT_IDS=""))
    assert replies == [] and h.handler.commands == []


def test_edited_command_messages_are_not_executed() -> None:
    async def go() -> Harness:
        async with Harness() as h:
            data = command_update("/pause")
            data["edited_message"] = data.pop("message")
            data["edited_message"]["edit_date"] = 1767225700
            await h.feed(data)
            return h
    h = run(go)
    assert h.handler.commands == [] and h.fake.sent() == []


def test_soft_close_picker_and_callback_execute_soft_close() -> None:
    async def go() -> tuple[Harness, list[str]]:
        async with Harness() as h:
            replies = await h.command("/soft_close")
            await h.feed(callback_update("sc:2:21", message_id=77))
            return h, replies

    h, replies = run(go)
    assert replies == ["Pick a recovery to soft-close:"]
    keyboard = h.fake.sent()[0]["reply_markup"]["inline_keyboard"]
    # Oldest recovery first; one button per row; the callback data contract of STATE_MACHINE §23.
    assert [row[0]["callback_data"] for row in keyboard] == ["sc:2:21", "sc:2:20"]
    assert keyboard[0][0]["text"].startswith("#2 shiba r21 sell @0.13000")
    assert h.handler.commands == [SoftClose(slot_id=2, recovery_id=21)]
    (answer,) = h.fake.sent("answerCallbackQuery")
    assert answer["callback_query_id"] == "cbq-2000" and answer["text"] == "✅ soft_close done"
    (edit,) = h.fake.sent("editMessageText")
    assert edit["chat_id"] == ALLOWED and edit["message_id"] == 77 and edit["text"] == "✅ soft_close done"
    assert "reply_markup" not in edit  # the stale buttons are gone


@pytest.mark.parametrize("data", ["sc:x:1", "sc:1", "sc:1:2:3", "zz:1:2", "", "sc:99999999999999:1"])
def test_malformed_callbacks_change_nothing(data: str) -> None:
    async def go() -> Harness:
        async with Harness() as h:
            await h.feed(callback_update(data))
            return h
    h = run(go)
    assert h.handler.commands == []
    (answer,) = h.fake.sent("answerCallbackQuery")
    assert answer["text"] == "Unknown or unavailable action."
    assert h.fake.sent("editMessageText") == []


def test_picker_without_recoveries_or_status() -> None:
    (reply,), _ = _one("/soft_close", status=snapshot(slots=[slot(1, "doge")]))
    assert reply == "No recoveries to soft-close."
    (reply,), h = _one("/soft_close", status=None)
    assert reply.startswith("No status yet")
    assert "reply_markup" not in h.fake.sent()[0]


def test_sticky_mode_parser_drops_orphan_commands_and_offers_release() -> None:
    async def go() -> tuple[Harness, dict[str, list[str]]]:
        async with Harness(settings(STICKY_MODE_ENABLED="true")) as h:
            out = {t: await h.command(t) for t in ["/help", "/soft_close", "/soft_close 1 2", "/release 3",
                                                   "/release 3 7", "/release", "/release x", "/release 1 2 3"]}
            await h.feed(callback_update("sc:2:21"))
            return h, out

    h, out = run(go)
    assert _help_commands(out["/help"][0]) == STICKY_HELP
    assert out["/soft_close"] == ["Unknown command /soft_close. Send /help for the list."]
    assert out["/soft_close 1 2"] == ["Unknown command /soft_close. Send /help for the list."]
    assert out["/release 3"] == ["✅ release_slot done"]
    for bad in ["/release", "/release x", "/release 1 2 3"]:
        assert out[bad] == ["Usage: /release <slot_id> [local_id] (slot_id >= 0 and <= 1000000, local_id a whole number)"]
    # The picker's callbacks left the parser too.
    assert h.fake.sent("answerCallbackQuery")[0]["text"] == "Unknown or unavailable action."
    assert h.handler.commands == [ReleaseSlot(slot_id=3), ReleaseSlot(slot_id=3, local_id=7)]


def test_release_is_unknown_outside_sticky_mode() -> None:
    (reply,), h = _one("/release 3")
    assert reply == "Unknown command /release. Send /help for the list."
    assert h.handler.commands == []


def test_handler_failure_is_reported_without_details() -> None:
    def boom(command: object) -> CommandReply:
        raise RuntimeError("runtime exploded at /var/secret/path")
    (reply,), _ = _one("/pause", handler=RecordingHandler(boom))
    assert reply == "❌ pause failed (RuntimeError); see the bot's log."


def test_handler_returning_garbage_is_reported() -> None:
    (reply,), _ = _one("/pause", handler=RecordingHandler(lambda c: "ok"))  # type: ignore[arg-type,return-value]
    assert reply.startswith("❌ pause: the runtime's answer could not be read")


def test_slow_runtime_times_out_with_a_clear_reply() -> None:
    import threading

    release = threading.Event()

    def slow(command: object) -> CommandReply:
        release.wait(5)
        return CommandReply(ok=True, action="pause", message="late")

    limits = TelegramLimits(**{**FAST.__dict__, "command_timeout_sec": 0.2})

    async def go() -> list[str]:
        async with Harness(handler=RecordingHandler(slow), limits=limits) as h:
            try:
                return await h.command("/pause")
            finally:
                release.set()

    (reply,) = run(go)
    assert reply.startswith("⌛ No answer from the runtime within 0.2s")
