"""The dashboard in headless Chromium against the WHOLE actor system on the simulated exchange.

`test_browser.py` feeds the page hand-made StatusSnapshots and `test_system.py` drives the HTTP
API of the real system; this one joins the two: the real `System` (store, status board, rate
budget, router, runtime, slots, start-up, clock), the real WebActor on a free loopback port and
Debian's Chromium driven by playwright. It runs twice, once per way of reaching the simulator:

* `inprocess`: `inprocess_venue(Venue(SimConfig()))`, as test_system.py (SimVenueActor, no
  sockets);
* `loopback`: what `run.py sim` runs: `SimExchange` on loopback sockets behind the real
  GatewayActor (WS v2 + REST).

The simulator's clock is manual, so the market only moves when the test says so: it trades the
market through the bot's entries and exits and checks the page follows without a reload; it
pauses and resumes from the UI through the real runtime and checks how refusals and bad input
are shown.

`POLL_INTERVAL_SECONDS=1`: the runtime sends its report (price, recent fills, counters) once per
loop and on mode changes, so with the default 30 s loop the fill markers would wait up to 30 s;
slot rows (phase, orders, cycles) come from the slots' own reports at once either way.

Every wait is bounded (playwright `expect` timeouts, `_wait` deadlines); nothing asserts on
durations. Skips (with the reason) when /usr/bin/chromium, playwright or the system's
construction API is missing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.commands import OperatorCommand
from web.actor import WebActor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# The loopback run (gateway streams shown connected) writes this; the in-process one "<stem>-inprocess.png".
SCREENSHOT = Path(os.environ.get("DASHBOARD_SYSTEM_SCREENSHOT", "/tmp/dashboard_system.png"))
LIVE_MS = 15_000  # bound for anything that goes through the runtime and back to the page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"),
]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not met within {timeout:.0f} s: {what}")
        time.sleep(0.05)


@dataclasses.dataclass
class LiveSystem:
    system: Any
    settings: Any
    url: str
    kind: str  # inprocess | loopback
    move_market: Callable[[float], None]  # trade the simulated market to a price now
    exchange_orders: Callable[[], tuple[int, int]]  # (open orders, executions) on the exchange

    def status(self) -> Any:
        return self.system.status(timeout=10)

    def wait_exchange(self, open_orders: int, fills: int) -> None:
        """Until the simulated exchange holds `open_orders` and has executed `fills` (the bot's
        orders are resting there, not just intended)."""
        _wait(lambda: self.exchange_orders() == (open_orders, fills), 15,
              f"{open_orders} open orders and {fills} fills on the exchange (last: {self.exchange_orders()})")


def _inprocess(settings: Any) -> tuple[Any, Callable[[Any], LiveSystem], Callable[[], None]]:
    """The venue of test_system.py: SimVenueActor around a Venue, no sockets."""
    from actors.base import send
    from actors.internal import Inspect
    from actors.sim_venue import ExternalPrice
    from actors.venues import inprocess_venue
    from gateway.sim.config import SimConfig
    from gateway.sim.venue import Venue

    def bind(system: Any) -> LiveSystem:
        actor = system.venue.actor

        def move(price: float) -> None:
            assert send(actor, ExternalPrice(price=price, ts=time.time()), system.inflight)

        def orders() -> tuple[int, int]:
            view = actor.ask(Inspect(), timeout=10)  # asked of the actor, never read across threads
            return view["open_orders"], view["fills"]

        return LiveSystem(system, system.settings, "", "inprocess", move, orders)

    return inprocess_venue(Venue(SimConfig())), bind, lambda: None


def _loopback(settings: Any) -> tuple[Any, Callable[[Any], LiveSystem], Callable[[], None]]:
    """What `run.py sim` runs: the SimExchange on loopback sockets and the real GatewayActor
    (WS v2 + REST). The exchange's clock is manual here, so the bot keeps the wall clock."""
    from actors.venues import kraken_venue, ws_config
    from gateway.sim.config import SimConfig
    from gateway.sim.server import SimExchange

    sim = SimExchange(SimConfig())
    sim.start()
    venue = kraken_venue(settings, public_ws_url=sim.public_ws_url, private_ws_url=sim.private_ws_url,
                         rest_url=sim.rest_url, api_key=sim.api_key, api_secret=sim.api_secret,
                         ws=dataclasses.replace(ws_config(settings), dms_timeout_s=0))

    def bind(system: Any) -> LiveSystem:
        def orders() -> tuple[int, int]:
            return sim.call(lambda v: (len(v.engine.open), len(v.engine.fills)))

        return LiveSystem(system, system.settings, "", "loopback", sim.set_price, orders)

    return venue, bind, sim.stop


@pytest.fixture(params=["inprocess", "loopback"])
def live_system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveSystem]:
    try:
        from actors.system import System, SystemConfig
        from core.config import load_settings
    except ImportError as exc:
        pytest.skip(f"actors.system cannot start the whole system on the sim exchange yet: {exc}")
    settings, _ = load_settings(env={"POLL_INTERVAL_SECONDS": "1"})
    holder: dict[str, Any] = {}

    def command_handler(command: OperatorCommand) -> Any:
        return holder["system"].command(command)

    web = WebActor.start(command_handler, host="127.0.0.1", port=0)
    system = None
    stop_exchange: Callable[[], None] = lambda: None  # noqa: E731
    try:
        port = web.proxy().bound_port().get(timeout=5)
        venue, bind, stop_exchange = (_inprocess if request.param == "inprocess" else _loopback)(settings)
        try:
            config = SystemConfig(
                settings=settings,
                venue_name="sim",
                venue=venue,
                db_path=str(tmp_path / "bot.sqlite3"),
                subscribers=[web],
                startup_timeout=10.0,
            )
        except TypeError as exc:
            pytest.skip(f"actors.system.SystemConfig has a different shape than expected: {exc}")
        system = System(config)
        holder["system"] = system
        system.start()
        live = bind(system)
        live.url = f"http://127.0.0.1:{port}/"
        yield live
    finally:
        if system is not None:
            try:
                system.stop()
            except Exception as exc:  # the system's own shutdown is not under test here
                warnings.warn(f"System.stop() failed: {exc!r}", stacklevel=1)
        stop_exchange()
        web.stop(timeout=10)


@pytest.fixture
def page(live_system: LiveSystem) -> Iterator[tuple[Any, list[str]]]:
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # Chromium logs every non-2xx fetch as "Failed to load resource"; the test provokes
            # 400s and 409s on purpose and checks how the page shows them.
            page.on(
                "console",
                lambda msg: msg.type == "error"
                and not msg.text.startswith("Failed to load resource")
                and errors.append(msg.text),
            )
            yield page, errors
            context.close()
        finally:
            browser.close()


def command(page: Any, text: str) -> None:
    page.locator("#cmd-input").fill(text)
    page.locator("#cmd-input").press("Enter")


def test_dashboard_follows_the_real_system_on_the_sim_exchange(
    live_system: LiveSystem, page: tuple[Any, list[str]]
) -> None:
    page, page_errors = page
    n = live_system.settings.initial_slots
    assert n >= 1
    rows = page.locator("#slots-table tbody tr[data-slot]")
    cmd_error = page.locator("#cmd-error")

    # ---- 1. the page loads and fills from the live stream: one row per slot, both entries of
    # every slot on the chart (the bot's orders, acknowledged by the simulated exchange)
    live_system.wait_exchange(2 * n, fills=0)
    page.goto(live_system.url)
    expect(page.locator("#conn-ws")).to_have_text("live")
    expect(page.locator("#venue")).to_have_text("sim")
    # The gateway's streams over loopback; the in-process venue announces its two sides at start.
    expect(page.locator("#conn-public")).to_have_class(re.compile(r"\bdot-on\b"), timeout=LIVE_MS)
    expect(page.locator("#conn-private")).to_have_class(re.compile(r"\bdot-on\b"), timeout=LIVE_MS)
    expect(page.locator("#mode")).to_have_text("RUNNING", timeout=LIVE_MS)
    expect(rows).to_have_count(n, timeout=LIVE_MS)
    expect(page.locator("#slots-table .phase.phase-S0")).to_have_count(n, timeout=LIVE_MS)
    expect(page.locator("#chart line.level.entry")).to_have_count(2 * n, timeout=LIVE_MS)
    expect(page.locator("#chart line.level.exit")).to_have_count(0)
    expect(page.locator("#chart path.fill-marker")).to_have_count(0)
    status = live_system.status()
    assert [s.phase for s in status.slots] == ["S0"] * n
    for slot in status.slots:
        row = page.locator(f"#slots-table tbody tr[data-slot='{slot.slot_id}']")
        expect(row).to_contain_text(slot.alias)
        expect(row.locator(".ord")).to_have_count(2)
    page.evaluate("window.__sameDocument = 'no reload'")

    # ---- 2a. the market trades down through the buy entries: they fill on the exchange and the
    # page shows it without a reload (phase S1b, a sell exit per slot, buy fill markers, price)
    buy_entries = [o.price for s in status.slots for o in s.orders if o.role == "entry" and o.side == "buy"]
    assert len(buy_entries) == n
    low = round(min(buy_entries) * 0.999, 6)
    live_system.move_market(low)
    expect(page.locator("#slots-table .phase.phase-S1b")).to_have_count(n, timeout=LIVE_MS)
    expect(page.locator("#chart line.level.exit.sell")).to_have_count(n, timeout=LIVE_MS)
    expect(page.locator("#chart line.level.entry")).to_have_count(n)  # A's sell entries still rest
    expect(page.locator("#chart path.fill-marker.buy")).to_have_count(n, timeout=LIVE_MS)
    expect(page.locator("#price")).to_have_text(f"{low:.6f}", timeout=LIVE_MS)
    expect(page.locator("#account-kv dt:text-is('Fills booked') + dd")).to_have_text(str(n), timeout=LIVE_MS)
    live_system.wait_exchange(2 * n, fills=n)  # each slot: A entry + B exit resting

    # ---- 2b. and back up through the exits (and A's sell entries): B's round trips complete;
    # cycle counters, round trips and P&L change in the table and header
    status = live_system.status()
    assert [s.phase for s in status.slots] == ["S1b"] * n
    exits = [o.price for s in status.slots for o in s.orders if o.role == "exit"]
    assert len(exits) == n
    high = round(max(exits) * 1.001, 6)
    live_system.move_market(high)
    expect(page.locator("#slot-count")).to_contain_text(f"{n} round trip", timeout=LIVE_MS)
    expect(page.locator("#chart path.fill-marker.sell")).to_have_count(2 * n, timeout=LIVE_MS)
    expect(page.locator("#chart path.fill-marker.buy")).to_have_count(n)
    expect(page.locator("#price")).to_have_text(f"{high:.6f}", timeout=LIVE_MS)
    expect(page.locator("#pnl-total")).to_have_class(re.compile(r"\bpos\b"), timeout=LIVE_MS)
    status = live_system.status()
    assert status.total_round_trips == n and status.total_profit > 0
    for slot in status.slots:
        assert slot.round_trips == 1 and slot.cycle_b == 2, slot
        row = page.locator(f"#slots-table tbody tr[data-slot='{slot.slot_id}']")
        expect(row.locator("td").nth(5)).to_have_text(f"{slot.cycle_a}/{slot.cycle_b}")
        expect(row.locator("td").nth(6)).to_have_text("1")
    first = status.slots[0]
    rows.first.click()
    expect(page.locator("#detail-title")).to_contain_text(f"#{first.slot_id} {first.alias}")
    expect(page.locator("#detail-body")).to_contain_text("Recent cycles")
    assert page.evaluate("window.__sameDocument") == "no reload"

    # ---- 3. pause from the UI goes through the real runtime: the header says PAUSED; a second
    # pause is refused (409) and shown; :resume brings back RUNNING
    page.locator("#btn-pause").click()
    expect(page.locator("#ctl-result")).to_contain_text("paused: dashboard", timeout=LIVE_MS)
    expect(page.locator("#mode")).to_have_text("PAUSED", timeout=LIVE_MS)
    expect(page.locator("#mode-reason")).to_have_text("dashboard")
    assert live_system.status().mode == "PAUSED"
    command(page, ":pause again")
    expect(cmd_error).to_contain_text("already paused", timeout=LIVE_MS)
    expect(cmd_error).not_to_have_class(re.compile(r"\bok\b"))
    command(page, ":resume")
    expect(cmd_error).to_contain_text("resumed", timeout=LIVE_MS)
    expect(cmd_error).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#mode")).to_have_text("RUNNING", timeout=LIVE_MS)
    expect(page.locator("#mode-reason")).to_have_text("")
    command(page, ":resume")
    expect(cmd_error).to_contain_text("already running", timeout=LIVE_MS)
    expect(cmd_error).not_to_have_class(re.compile(r"\bok\b"))

    # ---- 4. bad commands show an error in the page and change nothing
    before = live_system.status()
    command(page, ":entry abc")
    expect(cmd_error).to_contain_text('bad number "abc"')
    command(page, ":entry 99")  # refused by the API's decode (400), names the field
    expect(cmd_error).to_contain_text("<= 50.0", timeout=LIVE_MS)
    expect(cmd_error).to_contain_text("value")
    command(page, ":remove nosuchslot")
    expect(cmd_error).to_contain_text('no slot "nosuchslot"')
    command(page, ":remove 999")  # a slot id the runtime does not know: asks first, then 400
    expect(page.locator("#modal")).to_be_visible()
    expect(page.locator("#modal-title")).to_contain_text("Remove slot #999")
    page.locator("#modal-confirm").click()
    expect(page.locator("#modal")).to_be_hidden()
    expect(cmd_error).to_contain_text("no slot 999", timeout=LIVE_MS)
    expect(cmd_error).not_to_have_class(re.compile(r"\bok\b"))
    after = live_system.status()
    assert after.mode == "RUNNING"
    assert after.entry_pct == before.entry_pct
    assert [s.slot_id for s in after.slots] == [s.slot_id for s in before.slots]
    expect(rows).to_have_count(n)

    # ---- 5. screenshot of the live page (checked by eye when the test is changed)
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator("#chart path.fill-marker")).to_have_count(3 * n)
    shot = SCREENSHOT if live_system.kind == "loopback" else SCREENSHOT.with_name(f"{SCREENSHOT.stem}-inprocess.png")
    page.screenshot(path=str(shot), full_page=True)
    assert page.evaluate("window.__sameDocument") == "no reload"
    assert page_errors == []
