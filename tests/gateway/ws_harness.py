"""The scripted-server harness for KrakenWs tests: run a test body against a ScriptedKraken
(optionally behind a FreezingProxy) with a KrakenWs on the same loop, stop both afterwards."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from actors.messages import Fill, GatewayConnected, PlaceOrder
from gateway.kraken.ws import KrakenWs, WsConfig
from tests.gateway.helpers import CollectingSink
from tests.gateway.scripted import FreezingProxy, ScriptedKraken

FAST = WsConfig(
    heartbeat_timeout_s=2.0, ping_interval_s=0.5, request_timeout_s=2.0, open_timeout_s=2.0,
    close_timeout_s=0.5, dms_refresh_s=0.3, backoff_initial_s=0.02, backoff_max_s=0.2,
)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll (bounded) until predicate() is truthy."""
    for _ in range(int(timeout / 0.01)):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


class Harness:
    def __init__(self, server: ScriptedKraken, sink: CollectingSink, ws: KrakenWs, tokens: list[str],
                 proxy: FreezingProxy | None = None) -> None:
        self.server, self.sink, self.ws, self.tokens, self.proxy = server, sink, ws, tokens, proxy

    def of(self, kind: type) -> list[Any]:
        return self.sink.of(kind)

    async def wait(self, kind: type, count: int = 1, where: Callable[[Any], bool] = lambda m: True) -> list[Any]:
        return await until(lambda: (f := [m for m in self.sink.of(kind) if where(m)]) and len(f) >= count and f)

    async def connected(self, count: int = 1) -> None:
        await self.wait(GatewayConnected, count, lambda m: m.channel == "private")
        await self.wait(GatewayConnected, count, lambda m: m.channel == "public")


def run_with(
    test: Callable[[Harness], Awaitable[None]],
    config: WsConfig = FAST,
    setup: Callable[[ScriptedKraken], None] | None = None,
    replay: Callable[[float], Awaitable[list[Fill]]] | None = None,
    *,
    owners: Callable[[list[str]], Awaitable[dict[str, str | None]]] | None = None,
    dms_disarm: Callable[[], Awaitable[None]] | None = None,
    proxied: bool = False,
) -> Harness:
    sink = CollectingSink()

    async def main() -> Harness:
        server = ScriptedKraken()
        if setup is not None:
            setup(server)
        await server.start()
        proxy = FreezingProxy(server.port) if proxied else None
        if proxy is not None:
            await proxy.start()
        tokens: list[str] = []

        async def token() -> str:
            tokens.append(f"token-{len(tokens) + 1}")
            return tokens[-1]

        urls = (proxy.url("public"), proxy.url("private")) if proxy else (server.public_url, server.private_url)
        cfg = WsConfig(**{**config.__dict__, "public_url": urls[0], "private_url": urls[1]})
        ws = KrakenWs(cfg, sink.tell, token, replay=replay, owners=owners, dms_disarm=dms_disarm, rng=random.Random(7))
        h = Harness(server, sink, ws, tokens, proxy)
        await ws.start()
        try:
            await asyncio.wait_for(test(h), 30)
        finally:
            await ws.stop()
            if proxy is not None:
                await proxy.stop()
            await server.stop()
        return h

    return asyncio.run(main())


def place(cl: str = "s1-BE1-1", price: float = 0.15, volume: float = 100.0) -> PlaceOrder:
    return PlaceOrder(cl_ord_id=cl, side="buy", price=price, volume=volume)
