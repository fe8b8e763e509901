-- A phase asked to run again while its job is in flight (the resolver, when a collector or
-- facade job of its repository commits new emails): once the job in flight is decided, the
-- phase is due at once instead of at its next regular time.
ALTER TABLE ops.collection_status ADD COLUMN IF NOT EXISTS rerun boolean NOT NULL DEFAULT false;
