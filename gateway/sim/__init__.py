"""A Kraken-compatible simulated exchange for DOGE/USD on loopback (docs/simulator.md).

`server.SimExchange` serves WS v2 (public + private) and REST; `venue.Venue` is the same market
without sockets for in-process backtests.
"""
