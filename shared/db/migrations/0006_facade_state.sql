-- What the facade's bare clone says about a repository, one row per repository, from its
-- latest CloneObserved. In `data`, beside data.repos, because the default branch and its tip
-- are facts about the repository that SQL users (and Augur-era queries) join on; the clone's
-- state and size ride along so `watershed status` reads one row. data.repos.default_branch
-- stays the forge's answer (GitHub/GitLab only); this one is git's, for every repository.
--
-- state: ok | empty (no commits to read) | unreachable (the sync failed and is retried) |
-- missing (the remote says it does not exist) | blocked. A failed sync keeps the fields of
-- the last one that succeeded (the clone on disk is unchanged).
CREATE TABLE IF NOT EXISTS data.repo_clones (
    repo_id        integer PRIMARY KEY REFERENCES data.repos ON DELETE CASCADE,
    state          text NOT NULL CHECK (state IN ('ok', 'empty', 'unreachable', 'missing', 'blocked')),
    error          text,
    default_branch text,
    head_sha       text,
    branches       integer,
    tracked_refs   integer,
    all_branches   boolean,
    disk_bytes     bigint,
    observed_at    timestamptz NOT NULL,
    synced_at      timestamptz,  -- the last sync that succeeded
    updated_at     timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_reader') THEN
        GRANT SELECT ON ALL TABLES IN SCHEMA data, ops TO watershed_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_writer') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA data, ops TO watershed_writer;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA data, ops TO watershed_writer;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'watershed grants not applied: %', SQLERRM;
END
$$;
