-- Commit emails and the accounts they belong to, found by the resolver (noreply addresses,
-- pull request commits GitHub attributed, public emails, commit lookups). Keyed per account
-- namespace: the same address may be two people on github.com and on an Enterprise server.
-- cntrb_id NULL: the forge knows no account with the address (checked_at says when it was
-- last asked). Commits reach their authors through data.commit_authors.
CREATE TABLE IF NOT EXISTS data.contributor_aliases (
    namespace  text NOT NULL,
    email      text NOT NULL,
    cntrb_id   uuid REFERENCES data.contributors,
    source     text NOT NULL,
    checked_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, email)
);
CREATE INDEX IF NOT EXISTS contributor_aliases_cntrb ON data.contributor_aliases (cntrb_id);
CREATE INDEX IF NOT EXISTS pr_commits_author_email ON data.pr_commits (lower(author_email));
CREATE INDEX IF NOT EXISTS pr_commits_committer_email ON data.pr_commits (lower(committer_email));

-- services.processor.aliases._RANK: which source wins when two disagree about an address.
CREATE OR REPLACE FUNCTION data.alias_rank(source text)
    RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE source WHEN 'noreply' THEN 4 WHEN 'commit_lookup' THEN 3 WHEN 'pr_commit' THEN 3
                       WHEN 'public_email' THEN 2 WHEN 'none' THEN 0 ELSE 1 END;

-- shared.ids.alias_namespace: a plain git repository's emails are matched to github.com accounts.
CREATE OR REPLACE FUNCTION data.alias_namespace(platform text, host text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN platform = 'git' THEN 'github'
        WHEN platform IN ('github', 'gitlab') AND coalesce(host, '') <> ''
             AND lower(host) <> CASE platform WHEN 'github' THEN 'github.com' ELSE 'gitlab.com' END
        THEN platform || '@' || lower(host)
        ELSE platform END;

-- Every commit with the accounts of its author and committer, when known.
CREATE OR REPLACE VIEW data.commit_authors AS
SELECT c.repo_id, c.sha, author.cntrb_id AS author_id, committer.cntrb_id AS committer_id
FROM data.commits c
JOIN data.repos r ON r.repo_id = c.repo_id
LEFT JOIN data.contributor_aliases author
       ON author.namespace = data.alias_namespace(r.platform, r.host) AND author.email = lower(c.author_email)
LEFT JOIN data.contributor_aliases committer
       ON committer.namespace = data.alias_namespace(r.platform, r.host)
      AND committer.email = lower(c.committer_email);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_reader') THEN
        GRANT SELECT ON ALL TABLES IN SCHEMA data, ops TO watershed_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_writer') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA data, ops TO watershed_writer;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'watershed grants not applied: %', SQLERRM;
END
$$;
