-- The complete git history: commit parents and messages in tables of their own (Augur keeps
-- messages apart from the wide commits table), affiliations of commits and contributors, and
-- activity aggregates per repository and repository group.

-- A deleted (retracted) commit takes its parents and message along.
CREATE TABLE IF NOT EXISTS data.commit_parents (
    repo_id    integer NOT NULL,
    sha        text NOT NULL,
    parent_sha text NOT NULL,
    position   smallint NOT NULL,  -- 1 is the first parent (git's sha^1), 2 the merged one, ...
    PRIMARY KEY (repo_id, sha, position),
    FOREIGN KEY (repo_id, sha) REFERENCES data.commits (repo_id, sha) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS data.commit_messages (
    repo_id integer NOT NULL,
    sha     text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (repo_id, sha),
    FOREIGN KEY (repo_id, sha) REFERENCES data.commits (repo_id, sha) ON DELETE CASCADE
);

-- Each row of those two is checked against data.commits by PostgreSQL's foreign-key query
-- (repo_id = $1 AND sha = $2), planned once per connection, often while the table is still
-- empty and has no statistics. Then it may pick the (repo_id, author_date) index and read
-- every commit of the repository for each check (a repository's first collection became
-- quadratic). As a partial index it cannot serve that query, only those that bound the date;
-- the check takes the unique (repo_id, sha) index.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index
               WHERE indexrelid = to_regclass('data.commits_repo_author_date') AND indpred IS NULL) THEN
        DROP INDEX data.commits_repo_author_date;
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS commits_repo_author_date ON data.commits (repo_id, author_date)
    WHERE author_date IS NOT NULL;

ALTER TABLE data.commits ADD COLUMN IF NOT EXISTS author_affiliation text;
ALTER TABLE data.commits ADD COLUMN IF NOT EXISTS committer_affiliation text;
ALTER TABLE data.contributors ADD COLUMN IF NOT EXISTS affiliation text;

-- Existing rows move over once; the columns go with it (a second run finds them gone).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'data' AND table_name = 'commits' AND column_name = 'parents') THEN
        INSERT INTO data.commit_parents (repo_id, sha, parent_sha, position)
        SELECT c.repo_id, c.sha, p.parent_sha, p.position
        FROM data.commits c, unnest(c.parents) WITH ORDINALITY AS p(parent_sha, position)
        ON CONFLICT DO NOTHING;
        ALTER TABLE data.commits DROP COLUMN parents;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'data' AND table_name = 'commits' AND column_name = 'message') THEN
        INSERT INTO data.commit_messages (repo_id, sha, message)
        SELECT repo_id, sha, coalesce(message, '') FROM data.commits
        ON CONFLICT DO NOTHING;
        ALTER TABLE data.commits DROP COLUMN message;
    END IF;
END
$$;

-- The effective email-domain mappings (shipped defaults merged with the user's file), as the
-- processor last applied them: it compares them with its own at start and re-applies on change.
CREATE TABLE IF NOT EXISTS data.affiliations (
    domain       text NOT NULL,
    since        date,          -- NULL: regardless of date
    organization text,          -- NULL: no organisation (public mail providers)
    source       text NOT NULL CHECK (source IN ('default', 'user')),
    applied_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS affiliations_domain_since
    ON data.affiliations (domain, coalesce(since, '-infinity'::date));

-- Activity by author date (UTC): year, month and ISO week (starting Monday). Merges count as
-- commits with no lines; authors are distinct lower-cased author emails.
CREATE TABLE IF NOT EXISTS data.repo_activity (
    repo_id       integer NOT NULL REFERENCES data.repos ON DELETE CASCADE,
    period        text NOT NULL CHECK (period IN ('year', 'month', 'week')),
    period_start  date NOT NULL,
    commits       integer NOT NULL,
    lines_added   bigint NOT NULL,
    lines_removed bigint NOT NULL,
    authors       integer NOT NULL,
    PRIMARY KEY (repo_id, period, period_start)
);

CREATE TABLE IF NOT EXISTS data.repo_group_activity (
    repo_group_id integer NOT NULL REFERENCES data.repo_groups ON DELETE CASCADE,
    period        text NOT NULL CHECK (period IN ('year', 'month', 'week')),
    period_start  date NOT NULL,
    commits       integer NOT NULL,
    lines_added   bigint NOT NULL,
    lines_removed bigint NOT NULL,
    authors       integer NOT NULL,
    PRIMARY KEY (repo_group_id, period, period_start)
);

-- Derived data the processor (re)builds as a whole, by version: a missing or older row makes
-- the next processor start rebuild it (the aggregates of rows that existed before this
-- migration, or after a change of how they are computed).
CREATE TABLE IF NOT EXISTS ops.derived_versions (
    name     text PRIMARY KEY,
    version  integer NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now()
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
