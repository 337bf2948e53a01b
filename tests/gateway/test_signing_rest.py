"""Signing vector, nonces, the REST client over a mock transport, and secret redaction."""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.parse

import httpx
import pytest

from gateway.kraken.codec_rest import KrakenApiError
from gateway.kraken.rest import KrakenRest, KrakenTransportError
from gateway.kraken.signing import NonceGenerator, SigningError, make_signer
from tests.gateway.helpers import fixture, fixture_text

VECTOR = fixture("rest_sign_test_vector.json")
SECRET = VECTOR["private_key_base64"]


def test_signature_matches_kraken_published_vector() -> None:
    sign = make_signer(SECRET)
    assert sign(VECTOR["uri_path"], VECTOR["nonce"], VECTOR["post_data"]) == VECTOR["api_sign"]


def test_nonces_strictly_increase_even_if_the_clock_steps_back() -> None:
    ticks = iter([100, 100, 90, 200])
    gen = NonceGenerator(lambda: next(ticks))
    assert [gen.next() for _ in range(4)] == [100, 101, 102, 200]


def test_nonces_are_unique_across_threads() -> None:
    gen = NonceGenerator(lambda: 5)
    out: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        values = [gen.next() for _ in range(500)]
        with lock:
            out.extend(values)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(set(out)) == 2000


def test_bad_secret_error_does_not_echo_it() -> None:
    bad = "not-base64-secret-value!!"
    with pytest.raises(SigningError) as info:
        make_signer(bad)
    assert bad not in str(info.value) and bad not in repr(info.value)
    assert info.value.__suppress_context__ and bad not in str(info.value.__context__)


class FakeKraken:
    """httpx MockTransport handler that checks signatures like Kraken does."""

    def __init__(self, secret: str) -> None:
        self.key = base64.b64decode(secret)
        self.sign = make_signer(secret)
        self.requests: list[httpx.Request] = []
        self.nonces: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.startswith("/0/private/"):
            body = request.content.decode()
            form = dict(urllib.parse.parse_qsl(body))
            self.nonces.append(int(form["nonce"]))
            if request.headers["API-Sign"] != self.sign(path, form["nonce"], body):
                return httpx.Response(200, json={"error": ["EAPI:Invalid signature"]})
            if request.headers["API-Key"] != "my-key":
                return httpx.Response(200, json={"error": ["EAPI:Invalid key"]})
            return self.private(path.rsplit("/", 1)[1], form)
        return self.public(path.rsplit("/", 1)[1], dict(request.url.params))

    def private(self, method: str, form: dict[str, str]) -> httpx.Response:
        if method == "Balance":
            return httpx.Response(200, text=fixture_text("rest_balance.json"))
        if method == "GetWebSocketsToken":
            return httpx.Response(200, text=fixture_text("rest_get_websockets_token.json"))
        if method == "TradesHistory":
            # 3 trades of one order, served 2 per page to exercise ofs paging.
            ofs = int(form.get("ofs", 0))
            trades = {
                f"T{i}": {"ordertxid": "O1", "pair": "XDGUSD", "time": 100.0 + i, "type": "buy", "price": "0.1500000",
                          "vol": "50.00000000", "cost": "7.5", "fee": "0.012", "maker": True, "trade_id": i}
                for i in (3, 2, 1)  # newest first, as Kraken lists them
            }
            page = dict(list(trades.items())[ofs: ofs + 2])
            return httpx.Response(200, json={"error": [], "result": {"count": 3, "trades": page}})
        if method == "QueryOrders":
            info = {"O1": {"userref": 0, "cl_ord_id": "s1-BE1-1", "status": "closed", "opentm": 99.0, "closetm": 103.0,
                           "descr": {"pair": "XDGUSD", "type": "buy", "ordertype": "limit", "price": "0.1500000"},
                           "vol": "150.00000000", "vol_exec": "150.00000000", "cost": "22.5", "fee": "0.036",
                           "price": "0.1500000", "oflags": "fciq,post"}}
            return httpx.Response(200, json={"error": [], "result": {k: info[k] for k in form["txid"].split(",")}})
        return httpx.Response(200, text=fixture_text("rest_error.json"))

    def public(self, method: str, params: dict[str, str]) -> httpx.Response:
        if method == "OHLC":
            return httpx.Response(200, text=fixture_text("rest_ohlc.json"))
        if method == "AssetPairs":
            return httpx.Response(200, text=fixture_text("rest_assetpairs_xdgusd.json"))
        if method == "Time":
            return httpx.Response(200, text=fixture_text("rest_time.json"))
        if method == "Down":
            return httpx.Response(502, text="<html>bad gateway</html>")
        raise httpx.ConnectError("refused")


def run(coro):
    return asyncio.run(coro)


def client(fake: FakeKraken, key: str = "my-key") -> KrakenRest:
    return KrakenRest("http://127.0.0.1:9", key, SECRET, transport=httpx.MockTransport(fake))


def test_private_calls_are_signed_with_increasing_nonces() -> None:
    fake = FakeKraken(SECRET)

    async def go() -> tuple[dict[str, float], str]:
        rest = client(fake)
        try:
            return await rest.balance(), await rest.websockets_token()
        finally:
            await rest.aclose()

    balances, token = run(go())
    assert balances == {"USD": 1000.0, "DOGE": 5000.0}
    assert token.startswith("nmc39")
    assert fake.nonces[0] < fake.nonces[1]
    assert fake.requests[0].headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_public_calls_ohlc_since_and_rules() -> None:
    fake = FakeKraken(SECRET)

    async def go():
        rest = client(fake)
        try:
            return await rest.ohlc("XDGUSD", 1, since=1762777080), await rest.asset_pairs(), await rest.server_time()
        finally:
            await rest.aclose()

    (candles, last), rules, now = run(go())
    assert [c.begin_ts for c in candles] == [1762777140.0]  # not before the cursor, forming row dropped
    assert last == 1762777140 and rules.min_volume == 50.0 and now == 1762820224.0
    assert fake.requests[0].url.params["since"] == "1762777080"


def test_missed_fill_replay_pages_and_resolves_owners() -> None:
    fake = FakeKraken(SECRET)

    async def go():
        rest = client(fake)
        try:
            return await rest.missed_fills(start=50.0)
        finally:
            await rest.aclose()

    fills = run(go())
    assert [f.exec_id for f in fills] == ["T1", "T2", "T3"]
    assert [f.cum_qty for f in fills] == [50.0, 100.0, 150.0]
    assert [f.final for f in fills] == [False, False, True]
    assert {f.cl_ord_id for f in fills} == {"s1-BE1-1"} and all(f.liquidity == "m" for f in fills)
    offsets = [dict(urllib.parse.parse_qsl(r.content.decode())).get("ofs") for r in fake.requests if r.url.path.endswith("TradesHistory")]
    assert offsets == ["0", "2"]


def test_errors_are_typed_and_carry_kraken_strings() -> None:
    fake = FakeKraken(SECRET)

    async def go(call: str) -> None:
        rest = client(fake, key="other-key") if call == "bad-key" else client(fake)
        try:
            if call == "bad-key":
                await rest.balance()
            elif call == "unknown":
                await rest.private("Nope")
            elif call == "down":
                await rest.public("Down")
            else:
                await rest.public("Refused")
        finally:
            await rest.aclose()

    with pytest.raises(KrakenApiError) as info:
        run(go("bad-key"))
    assert info.value.errors == ["EAPI:Invalid key"]
    with pytest.raises(KrakenApiError) as info:
        run(go("unknown"))
    assert info.value.errors == ["EQuery:Unknown asset pair"]
    with pytest.raises(KrakenTransportError) as info:
        run(go("down"))
    assert "502" in info.value.errors[0]
    with pytest.raises(KrakenTransportError):
        run(go("refused"))


def test_secret_appears_in_no_repr_str_or_error() -> None:
    fake = FakeKraken(SECRET)
    rest = client(fake)
    texts = [repr(rest), str(rest), repr(vars(rest)), str(rest._sign)]

    async def fail() -> None:
        try:
            await rest.private("Nope")
        finally:
            await rest.aclose()

    with pytest.raises(KrakenApiError) as info:
        run(fail())
    texts += [str(info.value), repr(info.value), repr(info.value.errors)]
    for text in texts:
        assert SECRET not in text
        assert SECRET[:16] not in text
    assert "my-key" not in repr(rest)  # only a masked key prefix is shown


def test_private_call_without_credentials_fails_before_sending() -> None:
    fake = FakeKraken(SECRET)

    async def go() -> None:
        rest = KrakenRest("http://127.0.0.1:9", transport=httpx.MockTransport(fake))
        try:
            await rest.balance()
        finally:
            await rest.aclose()

    with pytest.raises(KrakenApiError):
        run(go())
    assert fake.requests == []


def test_rate_limited_calls_are_retried_with_growing_waits() -> None:
    answers = [["EAPI:Rate limit exceeded"], ["EService: Throttled: 1700000000"], []]
    nonces: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        nonces.append(dict(urllib.parse.parse_qsl(request.content.decode()))["nonce"])
        errors = answers.pop(0)
        return httpx.Response(200, json={"error": errors} if errors else {"error": [], "result": {"ZUSD": "1.0"}})

    async def go(retries: int) -> dict[str, float]:
        rest = KrakenRest("http://127.0.0.1:9", "my-key", SECRET, transport=httpx.MockTransport(handler),
                          rate_limit_retries=retries, rate_limit_wait_s=0.01)
        try:
            return await rest.balance()
        finally:
            await rest.aclose()

    assert run(go(4)) == {"USD": 1.0}
    assert len(nonces) == 3 and len(set(nonces)) == 3  # each retry is a freshly signed request
    answers[:] = [["EAPI:Rate limit exceeded"], ["EAPI:Rate limit exceeded"]]
    with pytest.raises(KrakenApiError) as info:
        run(go(1))  # bounded: the last answer is raised with Kraken's text
    assert info.value.errors == ["EAPI:Rate limit exceeded"]
    answers[:] = [["EAPI:Invalid key"], []]
    with pytest.raises(KrakenApiError):
        run(go(4))  # other errors are not retried
    assert answers == [[]]


def test_trades_history_drops_repeats_when_a_new_trade_shifts_the_pages() -> None:
    def row(i: int) -> dict[str, object]:
        return {"ordertxid": "O1", "pair": "XDGUSD", "time": 100.0 + i, "type": "buy", "price": "0.15",
                "vol": "1", "cost": "0.15", "fee": "0", "maker": True, "trade_id": i}

    # Newest first, 2 per page; T4 arrives between the two page requests and pushes T2 to page 2.
    pages = [{"T3": row(3), "T2": row(2)}, {"T2": row(2), "T1": row(1)}, {}]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": [], "result": {"count": 4, "trades": pages.pop(0)}})

    async def go() -> list[str]:
        rest = KrakenRest("http://127.0.0.1:9", "my-key", SECRET, transport=httpx.MockTransport(handler))
        try:
            return [t.exec_id for t in await rest.trades_history(start=50.0)]
        finally:
            await rest.aclose()

    assert sorted(run(go())) == ["T1", "T2", "T3"]
