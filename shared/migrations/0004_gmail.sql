-- ingress-gmail: where each mailbox's history was read up to, and its Pub/Sub watch registration.
-- The row is updated only under a transaction-scoped advisory lock on the mailbox, so replicas and the
-- poller never interleave.
CREATE TABLE gmail_cursors (
    mailbox           text PRIMARY KEY,
    -- Gmail history ids are unsigned 64-bit integers.
    history_id        numeric(20, 0) NOT NULL CHECK (history_id >= 0),
    full_syncs        integer NOT NULL DEFAULT 0,
    last_synced_at    timestamptz,
    watched_at        timestamptz,
    watch_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
