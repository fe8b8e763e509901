-- What people change through the REST API (or the CLI), as the processor records it.
--
-- A removed repository keeps its rows and is no longer scheduled; registering its URL again
-- brings it back. A removed group is kept (its repositories still point at it) but hidden.
-- (Priorities are queue settings: ops.repo_settings and ops.group_settings, 0008.)
ALTER TABLE data.repos DROP CONSTRAINT IF EXISTS repos_state_check;
ALTER TABLE data.repos ADD CONSTRAINT repos_state_check
    CHECK (state IN ('active', 'missing', 'blocked', 'invalid', 'unlisted', 'removed'));
ALTER TABLE data.repo_groups ADD COLUMN IF NOT EXISTS removed_at timestamptz;

-- The API lists repositories by group and state, and the dashboard counts recent jobs.
CREATE INDEX IF NOT EXISTS repos_group ON data.repos (repo_group_id);
CREATE INDEX IF NOT EXISTS repos_state ON data.repos (state);
CREATE INDEX IF NOT EXISTS collection_status_finished ON ops.collection_status (finished_at);
CREATE INDEX IF NOT EXISTS dead_letters_failed ON ops.dead_letters (failed_at);
