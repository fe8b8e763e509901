-- A phase whose job attempt failed and waits for its next delivery ('retrying'): its error
-- shows at once, instead of after every retry and its backoff.
ALTER TABLE ops.collection_status DROP CONSTRAINT IF EXISTS collection_status_state_check;
ALTER TABLE ops.collection_status ADD CONSTRAINT collection_status_state_check
    CHECK (state IN ('new', 'queued', 'collecting', 'retrying', 'committed', 'done', 'error'));
