"""The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by playwright)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.alerts import Alert
from actors.commands import Pause, RemoveSlot, SetLossLimit, SetProfitPct
from tests.web.conftest import RecordingHandler, RunningWeb
from tests.web.status_factory import make_status, with_changes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT = Path(os.environ.get("DASHBOARD_SCREENSHOT", "/tmp/dashboard.png"))
TOKEN = "browser-token-42"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"),
]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def open_page(browser: Any, page_errors: list[str]) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def open_page(url: str, width: int = 1440, height: int = 1000) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        # Console errors count too, except Chromium's note on each non-2xx fetch: the tests
        # provoke 400s and 401s on purpose and check how the page shows them.
        page.on(
            "console",
            lambda msg: msg.type == "error"
            and not msg.text.startswith("Failed to load resource")
            and page_errors.append(msg.text),
        )
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()


def command(page: Any, text: str) -> None:
    page.locator("#cmd-input").fill(text)
    page.locator("#cmd-input").press("Enter")


def count_levels(snapshot: Any, role: str) -> int:
    return sum(1 for slot in snapshot.slots for o in slot.orders if o.role == role)


def test_live_dashboard_end_to_end(
    start_web: Callable[..., RunningWeb], handler: RecordingHandler, open_page: Callable[..., Any], page_errors: list[str]
) -> None:
    web = start_web()
    first = make_status(4, fills=3)
    web.ref.tell(first)
    page = open_page(web.http + "/")

    # the page fills from the live stream: table, chart levels, fill markers, header
    expect(page.locator("#slots-table tbody tr[data-slot]")).to_have_count(4)
    expect(page.locator("#mode")).to_have_text("RUNNING")
    expect(page.locator("#conn-ws")).to_have_text("live")
    expect(page.locator("#chart line.level.entry")).to_have_count(count_levels(first, "entry"))
    expect(page.locator("#chart line.level.exit")).to_have_count(count_levels(first, "exit"))
    expect(page.locator("#chart path.fill-marker")).to_have_count(3)
    expect(page.locator("#cap-band")).to_have_text("NORMAL")
    expect(page.locator("#price")).to_have_text(f"{first.price:.6f}")
    expect(page.locator("#trend-kv")).to_contain_text("+0.31%")
    expect(page.locator("#trend-kv")).to_contain_text("Layer propagation")
    expect(page.locator("#trend-kv")).to_contain_text("30/40 orders (75%) · 2 unknown")
    page.evaluate("window.__sameDocument = 42")

    # a second snapshot (a new slot, a new fill, capacity in STOP) appears without a reload
    second = make_status(5, fills=4, ts=first.ts + 5, price=0.1241, partial_cancels=1)
    web.ref.tell(second)
    expect(page.locator("#slots-table tbody tr[data-slot]")).to_have_count(5)
    expect(page.locator("#chart path.fill-marker")).to_have_count(4)
    expect(page.locator("#price")).to_have_text("0.124100")
    expect(page.locator("#cap-band")).to_have_text("STOP")
    expect(page.locator("#cap-reason")).to_contain_text("partial-fill cancel")
    assert page.evaluate("window.__sameDocument") == 42
    assert page.locator("#chart polyline.price-line").count() == 1  # two prices: a line now

    # pause from the UI reaches the handler; the mode changes with the next push
    page.locator("#btn-pause").click()
    assert handler.wait_for(1) == [Pause(reason="dashboard")]
    expect(page.locator("#ctl-result")).to_contain_text("pause done")
    web.ref.tell(with_changes(second, ts=second.ts + 1, mode="PAUSED", pause_reason="dashboard"))
    expect(page.locator("#mode")).to_have_text("PAUSED")
    expect(page.locator("#mode-reason")).to_have_text("dashboard")

    # command bar: ':' focuses it; hints; clear errors for bad commands and for 400 replies
    page.locator("#slots-table h2, .slots-card h2").first.click()
    page.keyboard.press(":")
    expect(page.locator("#cmd-input")).to_be_focused()
    page.keyboard.type("re")
    expect(page.locator("#cmd-hints")).to_contain_text(":remove")
    expect(page.locator("#cmd-hints")).to_contain_text(":resume")
    expect(page.locator("#cmd-hints")).to_contain_text(":release")
    command(page, "frobnicate")
    expect(page.locator("#cmd-error")).to_contain_text('unknown command "frobnicate"')
    command(page, "entry abc")
    expect(page.locator("#cmd-error")).to_contain_text('bad number "abc"')
    command(page, "entry 99")
    expect(page.locator("#cmd-error")).to_contain_text("<= 50.0")
    expect(page.locator("#cmd-error")).to_contain_text("value")
    command(page, "profit 1.25")
    expect(page.locator("#cmd-error")).to_contain_text("set_profit_pct done")
    assert handler.commands[-1] == SetProfitPct(value=1.25)

    # destructive commands ask first, in an in-page modal
    before = len(handler.commands)
    command(page, ":remove 2")
    expect(page.locator("#modal")).to_be_visible()
    expect(page.locator("#modal-title")).to_contain_text("Remove slot #2 floki")
    page.locator("#modal-cancel").click()
    expect(page.locator("#modal")).to_be_hidden()
    expect(page.locator("#cmd-error")).to_contain_text("cancelled")
    assert len(handler.commands) == before
    command(page, "remove cheems")  # by alias
    expect(page.locator("#modal-title")).to_contain_text("Remove slot #3 cheems")
    page.locator("#modal-confirm").click()
    assert handler.wait_for(before + 1)[-1] == RemoveSlot(slot_id=3)
    command(page, "losslimit 12.5")  # a risk limit asks first, then sends the API struct
    expect(page.locator("#modal-title")).to_contain_text("daily loss limit to $12.5")
    page.locator("#modal-confirm").click()
    assert handler.wait_for(before + 2)[-1] == SetLossLimit(value=12.5)
    before += 1
    page.locator("#btn-drift").click()
    expect(page.locator("#modal")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#modal")).to_be_hidden()
    assert len(handler.commands) == before + 1

    # slot detail panel and sorting
    page.locator("#slots-table tbody tr[data-slot='1']").click()
    expect(page.locator("#slot-detail")).to_be_visible()
    expect(page.locator("#detail-title")).to_contain_text("shiba")
    expect(page.locator("#detail-body")).to_contain_text("Recent cycles")
    expect(page.locator("#chart line.level.sel").first).to_be_attached()
    page.locator("#slots-table th[data-key='pnl']").click()
    expect(page.locator("#slots-table th[data-key='pnl']")).to_have_class("num sorted-asc")
    pnls = [s.total_profit for s in second.slots]
    first_row = page.locator("#slots-table tbody tr[data-slot]").first
    expect(first_row).to_have_attribute("data-slot", str(second.slots[pnls.index(min(pnls))].slot_id))

    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page_errors == []


def test_stream_drop_shows_and_reconnects(
    start_web: Callable[..., RunningWeb], open_page: Callable[..., Any], page_errors: list[str]
) -> None:
    web = start_web()
    snapshot = make_status(3)
    web.ref.tell(snapshot)
    page = open_page(web.http + "/")
    expect(page.locator("#conn-ws")).to_have_text("live")
    loop = web.state.loop
    assert loop is not None
    loop.call_soon_threadsafe(web.state.hub.close_all)  # the server drops every dashboard client
    expect(page.locator("#banner")).to_contain_text("reconnecting")
    expect(page.locator("#conn-ws")).to_have_text("live", timeout=10_000)
    expect(page.locator("#banner")).to_be_hidden()
    web.ref.tell(with_changes(snapshot, ts=snapshot.ts + 1, mode="HALTED", halt_reason="invariant: S0 structure"))
    web.ref.tell(Alert(kind="halt", message="HALTED: invariant: S0 structure", ts=snapshot.ts + 1, severity="critical"))
    expect(page.locator("#toasts")).to_contain_text("HALTED: invariant: S0 structure")
    expect(page.locator("#alerts-list .alert.sev-critical")).to_have_count(1)
    expect(page.locator("#mode")).to_have_text("HALTED")
    expect(page.locator("#mode-reason")).to_have_text("invariant: S0 structure")
    assert page_errors == []


def test_token_prompt_and_session_storage(
    start_web: Callable[..., RunningWeb], handler: RecordingHandler, open_page: Callable[..., Any], page_errors: list[str]
) -> None:
    web = start_web(token=TOKEN)
    web.ref.tell(make_status(2))
    page = open_page(web.http + "/")
    expect(page.locator("#modal-title")).to_have_text("Operator token required")
    page.locator("#modal-input").fill(TOKEN)
    page.locator("#modal-confirm").click()
    expect(page.locator("#slots-table tbody tr[data-slot]")).to_have_count(2)
    expect(page.locator("#conn-ws")).to_have_text("live")
    assert page.evaluate("sessionStorage.getItem('dogebot.token')") == TOKEN
    page.locator("#btn-resume").click()
    expect(page.locator("#ctl-result")).to_contain_text("resume done")
    assert handler.commands[-1].__struct_config__.tag == "resume"
    page.reload()  # the token survives a reload of the tab: no prompt
    expect(page.locator("#conn-ws")).to_have_text("live")
    expect(page.locator("#modal")).to_be_hidden()
    assert page_errors == []


def test_narrow_window_has_no_horizontal_scroll(
    start_web: Callable[..., RunningWeb], open_page: Callable[..., Any], page_errors: list[str]
) -> None:
    web = start_web()
    web.ref.tell(make_status(6))
    page = open_page(web.http + "/", width=400, height=800)
    expect(page.locator("#slots-table tbody tr[data-slot]")).to_have_count(6)
    page.locator("#slots-table tbody tr[data-slot='0']").click()
    expect(page.locator("#slot-detail")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 401
    page.screenshot(path=str(SCREENSHOT.with_name(SCREENSHOT.stem + "-narrow.png")), full_page=False)
    assert page_errors == []
