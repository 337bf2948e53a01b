-- The embedded store's schema (SQLite). This file is the single declaration of the current shape:
-- store/migrate.py creates missing tables from it, adds columns that an older file lacks (each
-- column definition below must therefore be addable: no PRIMARY KEY/UNIQUE on non-key columns, and
-- NOT NULL only with a DEFAULT), then (re)creates indexes and triggers. Bump SCHEMA_VERSION in
-- store/migrate.py whenever this file changes. The PostgreSQL replica is store/schema_postgres.sql.
--
-- Times are unix seconds (REAL). JSON columns hold UTF-8 JSON text.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  REAL NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT ''
);

-- Snapshots by key: "__v1__" for the runtime, one key per slot/churner/ledger actor.
CREATE TABLE IF NOT EXISTS bot_state (
    key        TEXT PRIMARY KEY,
    payload    TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL DEFAULT 0
);

-- Slot transition log (STATE_MACHINE.md §21). event_id is assigned by the store when the caller
-- leaves it empty, so ids are unique across all slots.
CREATE TABLE IF NOT EXISTS bot_events (
    event_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    ts         REAL NOT NULL DEFAULT 0,
    slot_id    INTEGER,
    from_state TEXT,
    to_state   TEXT,
    event_type TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}'
);

-- Every execution booked, keyed by Kraken's exec_id: the exactly-once key (STATE_MACHINE.md §20).
-- Immutable once written (see the triggers below).
CREATE TABLE IF NOT EXISTS fills (
    exec_id   TEXT PRIMARY KEY,
    order_id  TEXT NOT NULL DEFAULT '',
    cl_ord_id TEXT,
    slot_id   INTEGER,
    side      TEXT CHECK (side IS NULL OR side IN ('buy', 'sell')),
    qty       REAL NOT NULL DEFAULT 0,
    price     REAL NOT NULL DEFAULT 0,
    fee       REAL NOT NULL DEFAULT 0,
    fee_asset TEXT NOT NULL DEFAULT 'USD',
    liquidity TEXT CHECK (liquidity IS NULL OR liquidity IN ('m', 't')),
    ts        REAL NOT NULL DEFAULT 0,
    source    TEXT NOT NULL DEFAULT 'ws' CHECK (source IN ('ws', 'snapshot', 'replay')),
    booked_at REAL NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS price_history (
    ts    REAL PRIMARY KEY,
    price REAL NOT NULL DEFAULT 0
);

-- Closed OHLCV candles (STATE_MACHINE.md §16); upsert-safe on (pair, interval_min, time).
CREATE TABLE IF NOT EXISTS ohlcv_candles (
    time         REAL NOT NULL,
    pair         TEXT NOT NULL,
    interval_min INTEGER NOT NULL,
    open         REAL NOT NULL DEFAULT 0,
    high         REAL NOT NULL DEFAULT 0,
    low          REAL NOT NULL DEFAULT 0,
    close        REAL NOT NULL DEFAULT 0,
    volume       REAL NOT NULL DEFAULT 0,
    trade_count  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pair, interval_min, time)
);

-- Position ledger (SELF_HEALING_SLOTS_PLAN.md phase 1/6): one row per position, upserted on
-- position_id. entry_* and original_exit_price are immutable, status only goes open -> closed and
-- the outcome fields are written once (triggers below); anything else the ledger wants to keep
-- goes into `extra` without a schema change.
CREATE TABLE IF NOT EXISTS position_ledger (
    position_id         INTEGER PRIMARY KEY,
    slot_id             INTEGER NOT NULL DEFAULT 0,
    trade_id            TEXT NOT NULL DEFAULT '',
    slot_mode           TEXT NOT NULL DEFAULT 'sticky',
    cycle               INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    entry_side          TEXT CHECK (entry_side IS NULL OR entry_side IN ('buy', 'sell')),
    entry_time          REAL NOT NULL DEFAULT 0,
    entry_price         REAL NOT NULL DEFAULT 0,
    entry_volume        REAL NOT NULL DEFAULT 0,
    entry_cost          REAL NOT NULL DEFAULT 0,
    entry_fee           REAL NOT NULL DEFAULT 0,
    entry_regime        TEXT,
    original_exit_price REAL NOT NULL DEFAULT 0,
    current_exit_price  REAL NOT NULL DEFAULT 0,
    exit_cl_ord_id      TEXT,
    exit_order_id       TEXT,
    times_repriced      INTEGER NOT NULL DEFAULT 0,
    exit_time           REAL,
    exit_price          REAL,
    exit_cost           REAL,
    exit_fee            REAL,
    exit_regime         TEXT,
    net_profit          REAL,
    close_reason        TEXT,
    extra               TEXT NOT NULL DEFAULT '{}',
    updated_at          REAL NOT NULL DEFAULT 0
);

-- Append-only journal: subsidy balances are derived from it, so rows never change or disappear.
CREATE TABLE IF NOT EXISTS position_journal (
    journal_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    position_id INTEGER NOT NULL DEFAULT 0,
    slot_id     INTEGER,
    ts          REAL NOT NULL DEFAULT 0,
    event_type  TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}'
);

-- Durable queue feeding the optional Supabase replica. A row is enqueued in the same transaction
-- as the write it mirrors and leaves only when the replica acknowledged it. row_key names the
-- upserted row so a newer pending version replaces an older one (last write wins anyway).
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name      TEXT NOT NULL DEFAULT '',
    op              TEXT NOT NULL DEFAULT 'insert' CHECK (op IN ('insert', 'upsert')),
    conflict_key    TEXT NOT NULL DEFAULT '',
    row_key         TEXT,
    row             TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at REAL NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS bot_events_slot_idx ON bot_events (slot_id, event_id);
CREATE INDEX IF NOT EXISTS bot_events_ts_idx ON bot_events (ts);
CREATE INDEX IF NOT EXISTS fills_ts_idx ON fills (ts);
CREATE INDEX IF NOT EXISTS fills_slot_idx ON fills (slot_id, ts);
CREATE INDEX IF NOT EXISTS fills_order_idx ON fills (order_id);
CREATE INDEX IF NOT EXISTS ohlcv_candles_time_idx ON ohlcv_candles (time);
CREATE INDEX IF NOT EXISTS position_ledger_open_idx ON position_ledger (status, slot_id);
CREATE INDEX IF NOT EXISTS position_journal_position_idx ON position_journal (position_id, journal_id);
CREATE INDEX IF NOT EXISTS position_journal_slot_idx ON position_journal (slot_id, journal_id);
CREATE INDEX IF NOT EXISTS outbox_due_idx ON outbox (next_attempt_at, id);
CREATE INDEX IF NOT EXISTS outbox_row_key_idx ON outbox (table_name, row_key) WHERE row_key IS NOT NULL;

-- Money rows are immutable: a bug that tries to rewrite or delete a booked fill or a journal entry
-- fails loudly instead of silently changing history.
CREATE TRIGGER IF NOT EXISTS fills_no_update BEFORE UPDATE ON fills
BEGIN
    SELECT RAISE(ABORT, 'fills are immutable');
END;

CREATE TRIGGER IF NOT EXISTS fills_no_delete BEFORE DELETE ON fills
BEGIN
    SELECT RAISE(ABORT, 'fills are immutable');
END;

CREATE TRIGGER IF NOT EXISTS position_journal_no_update BEFORE UPDATE ON position_journal
BEGIN
    SELECT RAISE(ABORT, 'position_journal is append-only');
END;

CREATE TRIGGER IF NOT EXISTS position_journal_no_delete BEFORE DELETE ON position_journal
BEGIN
    SELECT RAISE(ABORT, 'position_journal is append-only');
END;

CREATE TRIGGER IF NOT EXISTS position_ledger_guard BEFORE UPDATE ON position_ledger
WHEN OLD.entry_time IS NOT NEW.entry_time
  OR OLD.entry_price IS NOT NEW.entry_price
  OR OLD.entry_volume IS NOT NEW.entry_volume
  OR OLD.entry_cost IS NOT NEW.entry_cost
  OR OLD.entry_fee IS NOT NEW.entry_fee
  OR OLD.entry_side IS NOT NEW.entry_side
  OR OLD.entry_regime IS NOT NEW.entry_regime
  OR OLD.original_exit_price IS NOT NEW.original_exit_price
  OR (OLD.status = 'closed' AND NEW.status IS NOT 'closed')
  OR (OLD.exit_time IS NOT NULL AND OLD.exit_time IS NOT NEW.exit_time)
  OR (OLD.exit_price IS NOT NULL AND OLD.exit_price IS NOT NEW.exit_price)
  OR (OLD.net_profit IS NOT NULL AND OLD.net_profit IS NOT NEW.net_profit)
  OR (OLD.close_reason IS NOT NULL AND OLD.close_reason IS NOT NEW.close_reason)
BEGIN
    SELECT RAISE(ABORT, 'position_ledger: immutable field changed');
END;
