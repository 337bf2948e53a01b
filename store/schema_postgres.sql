-- Supabase (PostgreSQL) replica of the mirrored tables of store/schema.sql. Run it once in the
-- Supabase SQL editor. Column names match the SQLite tables exactly (the outbox sends SQLite rows
-- unchanged); types differ: JSON text becomes jsonb, REAL becomes double precision, ids bigint.
-- Times stay unix seconds so a row means the same thing on both sides.
--
-- The keys are the PostgREST on_conflict targets used by store/outbox.py (MIRRORED): upserts need
-- them, and inserts rely on them to turn a redelivered row into a harmless 23505.
-- Missing tables are fine: the replica disables a table it cannot find and the bot keeps trading.

CREATE TABLE IF NOT EXISTS bot_state (
    key        text PRIMARY KEY,
    payload    jsonb NOT NULL,
    updated_at double precision NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS bot_events (
    event_id   bigint PRIMARY KEY,
    ts         double precision NOT NULL,
    slot_id    integer,
    from_state text,
    to_state   text,
    event_type text NOT NULL DEFAULT '',
    details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS bot_events_slot_idx ON bot_events (slot_id, event_id);
CREATE INDEX IF NOT EXISTS bot_events_ts_idx ON bot_events (ts);

CREATE TABLE IF NOT EXISTS fills (
    exec_id   text PRIMARY KEY,
    order_id  text NOT NULL DEFAULT '',
    cl_ord_id text,
    slot_id   integer,
    side      text CHECK (side IS NULL OR side IN ('buy', 'sell')),
    qty       double precision NOT NULL DEFAULT 0,
    price     double precision NOT NULL DEFAULT 0,
    fee       double precision NOT NULL DEFAULT 0,
    fee_asset text NOT NULL DEFAULT 'USD',
    liquidity text CHECK (liquidity IS NULL OR liquidity IN ('m', 't')),
    ts        double precision NOT NULL DEFAULT 0,
    source    text NOT NULL DEFAULT 'ws' CHECK (source IN ('ws', 'snapshot', 'replay')),
    booked_at double precision NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fills_ts_idx ON fills (ts);
CREATE INDEX IF NOT EXISTS fills_slot_idx ON fills (slot_id, ts);

CREATE TABLE IF NOT EXISTS price_history (
    ts    double precision PRIMARY KEY,
    price double precision NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS ohlcv_candles (
    time         double precision NOT NULL,
    pair         text NOT NULL,
    interval_min integer NOT NULL,
    open         double precision NOT NULL DEFAULT 0,
    high         double precision NOT NULL DEFAULT 0,
    low          double precision NOT NULL DEFAULT 0,
    close        double precision NOT NULL DEFAULT 0,
    volume       double precision NOT NULL DEFAULT 0,
    trade_count  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (pair, interval_min, time)
);
CREATE INDEX IF NOT EXISTS ohlcv_candles_time_idx ON ohlcv_candles (time);

CREATE TABLE IF NOT EXISTS position_ledger (
    position_id         bigint PRIMARY KEY,
    slot_id             integer NOT NULL DEFAULT 0,
    trade_id            text NOT NULL DEFAULT '',
    slot_mode           text NOT NULL DEFAULT 'sticky',
    cycle               integer NOT NULL DEFAULT 0,
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    entry_side          text CHECK (entry_side IS NULL OR entry_side IN ('buy', 'sell')),
    entry_time          double precision NOT NULL DEFAULT 0,
    entry_price         double precision NOT NULL DEFAULT 0,
    entry_volume        double precision NOT NULL DEFAULT 0,
    entry_cost          double precision NOT NULL DEFAULT 0,
    entry_fee           double precision NOT NULL DEFAULT 0,
    entry_regime        text,
    original_exit_price double precision NOT NULL DEFAULT 0,
    current_exit_price  double precision NOT NULL DEFAULT 0,
    exit_cl_ord_id      text,
    exit_order_id       text,
    times_repriced      integer NOT NULL DEFAULT 0,
    exit_time           double precision,
    exit_price          double precision,
    exit_cost           double precision,
    exit_fee            double precision,
    exit_regime         text,
    net_profit          double precision,
    close_reason        text,
    extra               jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at          double precision NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS position_ledger_open_idx ON position_ledger (status, slot_id);

CREATE TABLE IF NOT EXISTS position_journal (
    journal_id  bigint PRIMARY KEY,
    position_id bigint NOT NULL DEFAULT 0,
    slot_id     integer,
    ts          double precision NOT NULL DEFAULT 0,
    event_type  text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS position_journal_position_idx ON position_journal (position_id, journal_id);
