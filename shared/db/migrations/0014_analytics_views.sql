-- The Augur-compatible layer (0012) rewritten where it did not scale: 8Knot's queries for 100
-- of 1,000 repositories, and the refresh of explorer_contributor_actions (bench/analytics.py,
-- docs/benchmarks.md). Same relations, same columns in the same order with the same types, and
-- the same rows; only how they are computed changes. Indexes they use: 0013.
--
--   * Who wrote a commit (the resolver's alias of its address, else GitHub's attribution in a
--     pull request, else the account whose public email it is) was a function called per
--     commit row (augur_data.watershed_commit_author, kept for SQL that calls it): PostgreSQL
--     cannot inline a function with subqueries, so it ran for every row, even for queries that
--     never read the author. It is now one view, augur_data.watershed_commits, with the three
--     lookups as subqueries of one column: evaluated only when the column is read, each only
--     when the ones before found nothing; augur_data.commits and explorer_contributor_actions
--     read it. (Most of the 150 s the refresh took on 1,000 repositories was the third lookup
--     walking every account in id order, per commit: 0013's index fixes that.)
--   * contributors_aliases chose one account per address by sorting every candidate of every
--     source (the resolver's addresses, public emails, pull request commits' once per commit),
--     on disk beyond work_mem, in every query that joins it (8Knot's affiliation and company
--     queries took 5-6 s): now the resolver's come in index order, and each other source adds
--     only the addresses the ones before it do not know, read from indexes.
--   * message read each of its two tables joined with data.repos for the platform id, so
--     PostgreSQL could not flatten the UNION ALL into the tables themselves, and hashed every
--     message of every repository to answer for a few issues (issue_response_query). The
--     platform id is now a subquery of its column: each branch reads one table, and a message
--     is looked up by its id through 0013's indexes.
--
-- explorer_contributor_actions is dropped and created again (a materialized view cannot be
-- replaced); if it was populated it is filled again here, so 8Knot never finds it empty.

-- data.commits, and the account of each commit's author (NULL: none known).
CREATE OR REPLACE VIEW augur_data.watershed_commits AS
SELECT c.*,
       coalesce(
           (SELECT a.cntrb_id FROM data.contributor_aliases a
            WHERE a.namespace = data.alias_namespace(r.platform, r.host) AND a.email = lower(c.author_email)),
           (SELECT pc.author_id FROM data.pr_commits pc
            WHERE pc.repo_id = c.repo_id AND pc.sha = c.sha AND pc.author_id IS NOT NULL
            ORDER BY pc.pr_number LIMIT 1),
           (SELECT k.cntrb_id FROM data.contributors k
            WHERE k.email <> '' AND lower(k.email) = lower(c.author_email)
            ORDER BY k.cntrb_id LIMIT 1)) AS author_cntrb_id
FROM data.commits c
LEFT JOIN data.repos r ON r.repo_id = c.repo_id;

CREATE OR REPLACE VIEW augur_data.commits AS
SELECT augur_data.watershed_row_id('commit:' || c.repo_id || ':' || c.sha || ':' || coalesce(f.path, '')) AS cmt_id,
       c.repo_id,
       c.sha::varchar(80)                                       AS cmt_commit_hash,
       coalesce(c.author_name, '')::varchar                     AS cmt_author_name,
       coalesce(c.author_email, '')::varchar                    AS cmt_author_raw_email,
       lower(coalesce(c.author_email, ''))::varchar             AS cmt_author_email,
       to_char((c.author_date AT TIME ZONE 'UTC') + make_interval(mins => coalesce(c.author_tz_minutes, 0)),
               'YYYY-MM-DD')::varchar(10)                       AS cmt_author_date,
       c.author_affiliation::varchar                            AS cmt_author_affiliation,
       coalesce(c.committer_name, '')::varchar                  AS cmt_committer_name,
       coalesce(c.committer_email, '')::varchar                 AS cmt_committer_raw_email,
       lower(coalesce(c.committer_email, ''))::varchar          AS cmt_committer_email,
       to_char((c.committer_date AT TIME ZONE 'UTC') + make_interval(mins => coalesce(c.committer_tz_minutes, 0)),
               'YYYY-MM-DD')::varchar                           AS cmt_committer_date,
       c.committer_affiliation::varchar                         AS cmt_committer_affiliation,
       coalesce(f.added, 0)                                     AS cmt_added,
       coalesce(f.deleted, 0)                                   AS cmt_removed,
       0                                                        AS cmt_whitespace,
       coalesce(f.path, '')::varchar                            AS cmt_filename,
       (c.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS cmt_date_attempted,
       c.author_cntrb_id                                        AS cmt_ght_author_id,
       NULL::integer                                            AS cmt_ght_committer_id,
       (c.committer_date AT TIME ZONE 'UTC')::timestamp(0)      AS cmt_ght_committed_at,
       c.committer_date::timestamptz(0)                         AS cmt_committer_timestamp,
       c.author_date::timestamptz(0)                            AS cmt_author_timestamp,
       k.login::varchar                                         AS cmt_author_platform_username,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'git'::varchar                                           AS data_source,
       (c.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM augur_data.watershed_commits c
LEFT JOIN data.commit_files f ON f.repo_id = c.repo_id AND f.sha = c.sha
LEFT JOIN data.contributors k ON k.cntrb_id = c.author_cntrb_id;

CREATE OR REPLACE VIEW augur_data.contributors_aliases AS
WITH alias AS (
    -- The resolver's: every address it found an account for (index order, no sort).
    (SELECT DISTINCT ON (lower(a.email)) a.cntrb_id, a.email
    FROM data.contributor_aliases a
    WHERE a.cntrb_id IS NOT NULL
    ORDER BY lower(a.email), a.cntrb_id, a.email, a.namespace)
    UNION ALL
    -- Public emails of accounts, for addresses the resolver has no account for.
    SELECT c.cntrb_id, c.email
    FROM data.contributors c
    WHERE c.email <> ''
      AND NOT EXISTS (SELECT 1 FROM data.contributor_aliases b
                      WHERE b.cntrb_id IS NOT NULL AND lower(b.email) = lower(c.email))
      AND NOT EXISTS (SELECT 1 FROM data.contributors d
                      WHERE d.email <> '' AND lower(d.email) = lower(c.email) AND d.cntrb_id < c.cntrb_id)
    UNION ALL
    -- Addresses of pull request commits GitHub attributed, where neither of those says.
    (SELECT DISTINCT ON (lower(p.email)) p.cntrb_id, p.email
    FROM (SELECT DISTINCT author_id AS cntrb_id, author_email AS email FROM data.pr_commits
          WHERE author_id IS NOT NULL AND author_email <> ''
          UNION ALL
          SELECT DISTINCT committer_id, committer_email FROM data.pr_commits
          WHERE committer_id IS NOT NULL AND committer_email <> '') p
    WHERE NOT EXISTS (SELECT 1 FROM data.contributor_aliases b
                      WHERE b.cntrb_id IS NOT NULL AND lower(b.email) = lower(p.email))
      AND NOT EXISTS (SELECT 1 FROM data.contributors d WHERE d.email <> '' AND lower(d.email) = lower(p.email))
    ORDER BY lower(p.email), p.cntrb_id, p.email)
)
SELECT augur_data.watershed_row_id('alias:' || lower(a.email)) AS cntrb_alias_id,
       a.cntrb_id,
       coalesce(nullif(c.email, ''), a.email)::varchar          AS canonical_email,
       a.email::varchar                                         AS alias_email,
       1::smallint                                              AS cntrb_active,
       (c.updated_at AT TIME ZONE 'UTC')::timestamp(0)          AS cntrb_last_modified,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (c.first_seen_at AT TIME ZONE 'UTC')::timestamp(0)       AS data_collection_date
FROM alias a
JOIN data.contributors c ON c.cntrb_id = a.cntrb_id;

CREATE OR REPLACE VIEW augur_data.message AS
SELECT m.msg_id * 2                                             AS msg_id,
       NULL::bigint                                             AS rgls_id,
       m.platform_msg_id,
       m.node_id::varchar                                       AS platform_node_id,
       m.repo_id                                        AS repo_id,
       m.author_id                                              AS cntrb_id,
       m.body::varchar                                          AS msg_text,
       (m.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS msg_timestamp,
       NULL::varchar                                            AS msg_sender_email,
       NULL::varchar                                            AS msg_header,
       (SELECT augur_data.watershed_platform_id(r.platform) FROM data.repos r WHERE r.repo_id = m.repo_id) AS pltfrm_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (m.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.messages m
UNION ALL
SELECT c.review_comment_id * 2 + 1,
       NULL::bigint,
       c.platform_msg_id,
       c.node_id::varchar,
       c.repo_id,
       c.author_id,
       c.body::varchar,
       (c.created_at AT TIME ZONE 'UTC')::timestamp(0),
       NULL::varchar,
       NULL::varchar,
       (SELECT augur_data.watershed_platform_id(r.platform) FROM data.repos r WHERE r.repo_id = c.repo_id),
       'Watershed'::varchar,
       NULL::varchar,
       'Watershed'::varchar,
       (c.collected_at AT TIME ZONE 'UTC')::timestamp(0)
FROM data.review_comments c;

-- Who did what, where, when (see 0012): its commits from augur_data.watershed_commits.
DO $$
DECLARE
    was_populated boolean := (SELECT ispopulated FROM pg_matviews
                              WHERE schemaname = 'augur_data' AND matviewname = 'explorer_contributor_actions');
BEGIN
    DROP MATERIALIZED VIEW IF EXISTS augur_data.explorer_contributor_actions;
    CREATE MATERIALIZED VIEW augur_data.explorer_contributor_actions AS
    SELECT a.cntrb_id,
           a.created_at,
           a.repo_id,
           a.action,
           r.name::varchar AS repo_name,
           k.login::varchar AS login,
           row_number() OVER (PARTITION BY a.cntrb_id, a.repo_id
                              ORDER BY a.created_at DESC, a.action, a.source_key) AS rank
    FROM (
        SELECT c.author_cntrb_id AS cntrb_id, c.author_date AS created_at, c.repo_id, 'commit'::text AS action,
               c.sha AS source_key
        FROM augur_data.watershed_commits c
        UNION ALL
        SELECT i.author_id, i.created_at, i.repo_id, 'issue_opened', i.issue_id::text
        FROM data.issues i
        UNION ALL
        SELECT e.actor_id, e.created_at, e.repo_id,
               CASE WHEN e.event = 'merged' THEN 'pull_request_merged' ELSE 'pull_request_closed' END,
               e.platform_event_id::text
        FROM data.issue_events e
        JOIN data.pull_requests p ON p.repo_id = e.repo_id AND p.number = e.issue_number
        WHERE e.is_pull_request AND (e.event = 'merged' OR (e.event = 'closed' AND p.merged_at IS NULL))
        UNION ALL
        SELECT e.actor_id, e.created_at, e.repo_id, 'issue_closed', e.platform_event_id::text
        FROM data.issue_events e
        JOIN data.issues i ON i.repo_id = e.repo_id AND i.number = e.issue_number
        WHERE NOT e.is_pull_request AND e.event = 'closed'
        UNION ALL
        SELECT v.author_id, v.submitted_at, v.repo_id, 'pull_request_review_' || upper(v.state),
               v.platform_review_id::text
        FROM data.reviews v
        JOIN data.pull_requests p ON p.repo_id = v.repo_id AND p.number = v.pr_number
        UNION ALL
        SELECT p.author_id, p.created_at, p.repo_id, 'pull_request_open', p.pull_request_id::text
        FROM data.pull_requests p
        UNION ALL
        SELECT m.author_id, m.created_at, m.repo_id, 'pull_request_comment', m.platform_msg_id::text
        FROM data.messages m
        JOIN data.pull_requests p ON p.repo_id = m.repo_id AND p.number = m.parent_number
        UNION ALL
        SELECT m.author_id, m.created_at, m.repo_id, 'issue_comment', m.platform_msg_id::text
        FROM data.messages m
        JOIN data.issues i ON i.repo_id = m.repo_id AND i.number = m.parent_number
    ) a
    JOIN data.repos r ON r.repo_id = a.repo_id
    LEFT JOIN data.contributors k ON k.cntrb_id = a.cntrb_id
    WHERE a.cntrb_id IS NOT NULL AND a.created_at IS NOT NULL
    WITH NO DATA;
    CREATE UNIQUE INDEX explorer_contributor_actions_key
        ON augur_data.explorer_contributor_actions (repo_id, cntrb_id, rank);
    IF was_populated THEN
        REFRESH MATERIALIZED VIEW augur_data.explorer_contributor_actions;
    END IF;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_reader') THEN
        GRANT SELECT ON ALL TABLES IN SCHEMA augur_data TO watershed_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_writer') THEN
        GRANT SELECT ON ALL TABLES IN SCHEMA augur_data TO watershed_writer;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'augur_data grants not applied: %', SQLERRM;
END
$$;
