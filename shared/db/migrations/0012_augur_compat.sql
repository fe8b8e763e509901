-- The Augur-compatible layer: every relation 8Knot (and Augur-era SQL) reads, under Augur's
-- name, with Augur's columns in Augur's order and Augur's types (transcribed from Augur's
-- SQLAlchemy models and explorer_* migrations; tests/fixtures/augur/schema.json). Views over
-- the `data` tables; materialized views where Augur has them. Nothing here stores a fact.
--
-- Deliberate differences from Augur (docs/augur-compat.md lists them all):
--   * repo_id, repo_group_id, issue_id and pull_request_id are integer (Augur: bigint): our
--     keys are 32-bit and 8Knot binds and caches them as int;
--   * timestamps are our UTC instants, as Augur's `timestamp without time zone` columns in UTC;
--   * an issue's closer (issues.cntrb_id) is filled; an issue comment is credited to its
--     author; comments on open issues count; assignment rows name the assignee;
--   * rows for facts we do not collect yet (repo_labor, libyear, scorecard) do not exist.
-- Ids of rows that have no surrogate key of their own (a commit's file, a pull request's file,
-- an issue's label, an alias) are a deterministic 63-bit hash of their natural key: stable
-- across refreshes and deployments, never joined on by 8Knot.
--
-- Applying this file twice is harmless: views are CREATE OR REPLACE, materialized views and
-- indexes IF NOT EXISTS.

CREATE SCHEMA IF NOT EXISTS augur_data;

-- Lookups the views below make per row.
CREATE INDEX IF NOT EXISTS pr_commits_repo_sha ON data.pr_commits (repo_id, sha);
CREATE INDEX IF NOT EXISTS issue_events_repo_event ON data.issue_events (repo_id, event);

CREATE OR REPLACE FUNCTION augur_data.watershed_row_id(natural_key text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (('x' || substr(md5(natural_key), 1, 16))::bit(64)::bigint) & 9223372036854775807;

-- Augur's platform table: 25150 is GitHub, 25152 GitLab.
CREATE OR REPLACE FUNCTION augur_data.watershed_platform_id(platform text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN platform LIKE 'gitlab%' THEN 25152 ELSE 25150 END;

-- ---------------------------------------------------------------------------------------
-- Repositories and groups
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW augur_data.repo_groups AS
SELECT g.repo_group_id,
       g.name::varchar                                          AS rg_name,
       NULL::varchar                                            AS rg_description,
       NULL::varchar(128)                                       AS rg_website,
       0::smallint                                              AS rg_recache,
       (g.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS rg_last_modified,
       'User Created Repo Group'::varchar                       AS rg_type,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (g.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS data_collection_date
FROM data.repo_groups g;

CREATE OR REPLACE VIEW augur_data.repo AS
SELECT r.repo_id,
       r.repo_group_id,
       r.url::varchar                                           AS repo_git,
       (r.host || '/' || r.owner || '/')::varchar               AS repo_path,
       r.name::varchar                                          AS repo_name,
       (r.registered_at AT TIME ZONE 'UTC')::timestamp(0)       AS repo_added,
       (CASE r.state WHEN 'active' THEN 'Complete' ELSE 'Error' END)::varchar AS repo_status,
       ''::varchar                                              AS repo_type,
       r.html_url::varchar                                      AS url,
       NULL::integer                                            AS owner_id,
       r.description::varchar                                   AS description,
       r.language::varchar                                      AS primary_language,
       to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')::varchar AS created_at,
       (CASE WHEN r.is_fork THEN 'Parent not available' END)::varchar AS forked_from,
       (r.updated_at AT TIME ZONE 'UTC')::timestamp(0)          AS updated_at,
       (CASE WHEN r.is_archived THEN r.metadata_at END)::timestamptz(0) AS repo_archived_date_collected,
       (CASE WHEN r.is_archived THEN 1 WHEN r.is_archived IS NOT NULL THEN 0 END)::integer AS repo_archived,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       r.platform::varchar                                      AS data_source,
       (coalesce(r.metadata_at, r.registered_at) AT TIME ZONE 'UTC')::timestamp(0) AS data_collection_date
FROM data.repos r;

CREATE OR REPLACE VIEW augur_data.repo_info AS
SELECT i.repo_info_id,
       i.repo_id,
       (i.observed_at AT TIME ZONE 'UTC')::timestamp(0)         AS last_updated,
       NULL::varchar                                            AS issues_enabled,
       i.open_issues                                            AS open_issues,
       NULL::varchar                                            AS pull_requests_enabled,
       NULL::varchar                                            AS wiki_enabled,
       NULL::varchar                                            AS pages_enabled,
       i.forks                                                  AS fork_count,
       i.default_branch::varchar                                AS default_branch,
       i.watchers                                               AS watchers_count,
       NULL::integer                                            AS "UUID",
       i.license::varchar                                       AS license,
       i.stars                                                  AS stars_count,
       NULL::integer                                            AS committers_count,
       NULL::varchar                                            AS issue_contributors_count,
       i.has_changelog::text::varchar                           AS changelog_file,
       i.has_contributing::text::varchar                        AS contributing_file,
       NULL::varchar                                            AS license_file,
       i.has_code_of_conduct::text::varchar                     AS code_of_conduct_file,
       i.has_security::text::varchar                            AS security_issue_file,
       NULL::varchar                                            AS security_audit_file,
       (CASE WHEN i.is_archived THEN 'archived' WHEN i.is_disabled THEN 'disabled' ELSE 'active' END)::varchar AS status,
       NULL::varchar                                            AS keywords,
       i.commit_count::bigint                                   AS commit_count,
       (i.open_issues + i.closed_issues)::bigint                AS issues_count,
       i.closed_issues::bigint                                  AS issues_closed,
       (i.open_pull_requests + i.closed_pull_requests + i.merged_pull_requests)::bigint AS pull_request_count,
       i.open_pull_requests::bigint                             AS pull_requests_open,
       i.closed_pull_requests::bigint                           AS pull_requests_closed,
       i.merged_pull_requests::bigint                           AS pull_requests_merged,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (i.observed_at AT TIME ZONE 'UTC')::timestamp(0)         AS data_collection_date
FROM data.repo_info i;

CREATE OR REPLACE VIEW augur_data.releases AS
SELECT coalesce(rl.node_id, rl.platform_release_id::text)::char(128) AS release_id,
       rl.repo_id,
       rl.name::varchar                                         AS release_name,
       rl.body::varchar                                         AS release_description,
       c.login::varchar                                         AS release_author,
       (rl.created_at AT TIME ZONE 'UTC')::timestamp(6)         AS release_created_at,
       (rl.published_at AT TIME ZONE 'UTC')::timestamp(6)       AS release_published_at,
       (coalesce(rl.published_at, rl.created_at) AT TIME ZONE 'UTC')::timestamp(6) AS release_updated_at,
       rl.draft                                                 AS release_is_draft,
       rl.prerelease                                            AS release_is_prerelease,
       rl.tag_name::varchar                                     AS release_tag_name,
       rl.html_url::varchar                                     AS release_url,
       false                                                    AS tag_only,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (rl.collected_at AT TIME ZONE 'UTC')::timestamp(6)       AS data_collection_date
FROM data.releases rl
LEFT JOIN data.contributors c ON c.cntrb_id = rl.author_id;

-- ---------------------------------------------------------------------------------------
-- People
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW augur_data.contributors AS
SELECT c.cntrb_id,
       c.login::varchar                                         AS cntrb_login,
       c.email::varchar                                         AS cntrb_email,
       c.name::varchar                                          AS cntrb_full_name,
       c.affiliation::varchar                                   AS cntrb_company,
       (c.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS cntrb_created_at,
       c.kind::varchar                                          AS cntrb_type,
       0::smallint                                              AS cntrb_fake,
       (c.kind = 'Ghost')::integer::smallint                    AS cntrb_deleted,
       NULL::numeric(11,8)                                      AS cntrb_long,
       NULL::numeric(10,8)                                      AS cntrb_lat,
       NULL::char(3)                                            AS cntrb_country_code,
       NULL::varchar                                            AS cntrb_state,
       NULL::varchar                                            AS cntrb_city,
       NULL::varchar                                            AS cntrb_location,
       c.email::varchar                                         AS cntrb_canonical,
       c.updated_at::timestamptz(0)                             AS cntrb_last_used,
       gh.platform_user_id                                      AS gh_user_id,
       gh.login::varchar                                        AS gh_login,
       NULL::varchar                                            AS gh_url,
       gh.html_url::varchar                                     AS gh_html_url,
       gh.node_id::varchar                                      AS gh_node_id,
       gh.avatar_url::varchar                                   AS gh_avatar_url,
       NULL::varchar                                            AS gh_gravatar_id,
       NULL::varchar                                            AS gh_followers_url,
       NULL::varchar                                            AS gh_following_url,
       NULL::varchar                                            AS gh_gists_url,
       NULL::varchar                                            AS gh_starred_url,
       NULL::varchar                                            AS gh_subscriptions_url,
       NULL::varchar                                            AS gh_organizations_url,
       NULL::varchar                                            AS gh_repos_url,
       NULL::varchar                                            AS gh_events_url,
       NULL::varchar                                            AS gh_received_events_url,
       -- GitHub's own type: the deleted-account placeholder is a "User" there.
       (CASE gh.kind WHEN 'Ghost' THEN 'User' ELSE gh.kind END)::varchar AS gh_type,
       NULL::varchar                                            AS gh_site_admin,
       gl.html_url::varchar                                     AS gl_web_url,
       gl.avatar_url::varchar                                   AS gl_avatar_url,
       NULL::varchar                                            AS gl_state,
       gl.login::varchar                                        AS gl_username,
       gl.name::varchar                                         AS gl_full_name,
       gl.platform_user_id                                      AS gl_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       c.platform::varchar                                      AS data_source,
       (c.first_seen_at AT TIME ZONE 'UTC')::timestamp(0)       AS data_collection_date
FROM data.contributors c
LEFT JOIN LATERAL (SELECT c.* WHERE c.platform LIKE 'github%') gh ON true
LEFT JOIN LATERAL (SELECT c.* WHERE c.platform LIKE 'gitlab%') gl ON true;

-- An account's known emails: those the resolver found for it (data.contributor_aliases), its
-- public email, and the emails of the commits attributed to it in its pull requests. Augur
-- keeps one account per alias email; so do we (the resolver's first, then by id).
CREATE OR REPLACE VIEW augur_data.contributors_aliases AS
WITH seen AS (
    SELECT cntrb_id, email, -1 AS pref FROM data.contributor_aliases WHERE cntrb_id IS NOT NULL
    UNION ALL
    SELECT cntrb_id, email, 0 AS pref FROM data.contributors WHERE email <> ''
    UNION ALL
    SELECT author_id, author_email, 1 FROM data.pr_commits WHERE author_id IS NOT NULL AND author_email <> ''
    UNION ALL
    SELECT committer_id, committer_email, 1 FROM data.pr_commits WHERE committer_id IS NOT NULL AND committer_email <> ''
), alias AS (
    SELECT DISTINCT ON (lower(email)) cntrb_id, email
    FROM seen
    ORDER BY lower(email), pref, cntrb_id
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

-- ---------------------------------------------------------------------------------------
-- Issues, pull requests and their events
-- ---------------------------------------------------------------------------------------

-- Issues only: a pull request is in augur_data.pull_requests, never here, so
-- pull_request and pull_request_id are always NULL (8Knot filters on them being NULL).
CREATE OR REPLACE VIEW augur_data.issues AS
SELECT i.issue_id,
       i.repo_id,
       i.author_id                                              AS reporter_id,
       NULL::bigint                                             AS pull_request,
       NULL::integer                                            AS pull_request_id,
       (i.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS created_at,
       i.title::varchar                                         AS issue_title,
       i.body::varchar                                          AS issue_body,
       i.closed_by_id                                           AS cntrb_id,
       i.comments::bigint                                       AS comment_count,
       (i.updated_at AT TIME ZONE 'UTC')::timestamp(0)          AS updated_at,
       (i.closed_at AT TIME ZONE 'UTC')::timestamp(0)           AS closed_at,
       NULL::timestamp(0)                                       AS due_on,
       NULL::varchar                                            AS repository_url,
       NULL::varchar                                            AS issue_url,
       NULL::varchar                                            AS labels_url,
       NULL::varchar                                            AS comments_url,
       NULL::varchar                                            AS events_url,
       i.html_url::varchar                                      AS html_url,
       i.state::varchar                                         AS issue_state,
       i.node_id::varchar                                       AS issue_node_id,
       i.number::bigint                                         AS gh_issue_number,
       i.platform_issue_id                                      AS gh_issue_id,
       a.platform_user_id                                       AS gh_user_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (i.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.issues i
LEFT JOIN data.contributors a ON a.cntrb_id = i.author_id;

CREATE OR REPLACE VIEW augur_data.issue_labels AS
SELECT augur_data.watershed_row_id('issue_label:' || l.issue_id || ':' || l.name) AS issue_label_id,
       l.issue_id                                       AS issue_id,
       i.repo_id                                        AS repo_id,
       l.name::varchar                                          AS label_text,
       l.description::varchar                                   AS label_description,
       l.color::varchar                                         AS label_color,
       l.platform_label_id                                      AS label_src_id,
       NULL::varchar                                            AS label_src_node_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (i.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.issue_labels l
JOIN data.issues i ON i.issue_id = l.issue_id;

CREATE OR REPLACE VIEW augur_data.pull_requests AS
SELECT p.pull_request_id,
       p.repo_id,
       NULL::varchar                                            AS pr_url,
       p.platform_pr_id                                         AS pr_src_id,
       p.node_id::varchar                                       AS pr_src_node_id,
       p.html_url::varchar                                      AS pr_html_url,
       NULL::varchar                                            AS pr_diff_url,
       NULL::varchar                                            AS pr_patch_url,
       NULL::varchar                                            AS pr_issue_url,
       NULL::bigint                                             AS pr_augur_issue_id,
       p.number::bigint                                         AS pr_src_number,
       p.state::varchar                                         AS pr_src_state,
       p.locked                                                 AS pr_src_locked,
       p.title::varchar                                         AS pr_src_title,
       p.author_id                                              AS pr_augur_contributor_id,
       p.body                                                   AS pr_body,
       (p.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS pr_created_at,
       (p.updated_at AT TIME ZONE 'UTC')::timestamp(0)          AS pr_updated_at,
       (p.closed_at AT TIME ZONE 'UTC')::timestamp(0)           AS pr_closed_at,
       (p.merged_at AT TIME ZONE 'UTC')::timestamp(0)           AS pr_merged_at,
       p.merge_commit_sha::varchar                              AS pr_merge_commit_sha,
       NULL::bigint                                             AS pr_teams,
       p.milestone::varchar                                     AS pr_milestone,
       NULL::varchar                                            AS pr_commits_url,
       NULL::varchar                                            AS pr_review_comments_url,
       NULL::varchar                                            AS pr_review_comment_url,
       NULL::varchar                                            AS pr_comments_url,
       NULL::varchar                                            AS pr_statuses_url,
       (split_part(p.head_repo, '/', 1) || ':' || p.head_ref)::varchar AS pr_meta_head_id,
       (r.owner || ':' || p.base_ref)::varchar                  AS pr_meta_base_id,
       NULL::varchar                                            AS pr_src_issue_url,
       NULL::varchar                                            AS pr_src_comments_url,
       NULL::varchar                                            AS pr_src_review_comments_url,
       NULL::varchar                                            AS pr_src_commits_url,
       NULL::varchar                                            AS pr_src_statuses_url,
       p.author_association::varchar                            AS pr_src_author_association,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (p.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.pull_requests p
JOIN data.repos r ON r.repo_id = p.repo_id;

-- GitHub lists the events of issues and pull requests together; Augur splits them.
-- cntrb_id is the actor, as in Augur.
CREATE OR REPLACE VIEW augur_data.issue_events AS
SELECT e.issue_event_id                                         AS event_id,
       i.issue_id                                       AS issue_id,
       e.repo_id                                        AS repo_id,
       e.actor_id                                               AS cntrb_id,
       e.event::varchar                                         AS action,
       e.commit_sha::varchar                                    AS action_commit_hash,
       (e.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS created_at,
       e.node_id::varchar                                       AS node_id,
       NULL::varchar                                            AS node_url,
       augur_data.watershed_platform_id(r.platform)             AS platform_id,
       e.platform_event_id                                      AS issue_event_src_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (e.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.issue_events e
JOIN data.issues i ON i.repo_id = e.repo_id AND i.number = e.issue_number
JOIN data.repos r ON r.repo_id = e.repo_id
WHERE NOT e.is_pull_request;

CREATE OR REPLACE VIEW augur_data.pull_request_events AS
SELECT e.issue_event_id                                         AS pr_event_id,
       p.pull_request_id                                AS pull_request_id,
       e.repo_id                                        AS repo_id,
       e.actor_id                                               AS cntrb_id,
       e.event::varchar                                         AS action,
       e.commit_sha::varchar                                    AS action_commit_hash,
       (e.created_at AT TIME ZONE 'UTC')::timestamp(0)          AS created_at,
       e.platform_event_id                                      AS issue_event_src_id,
       e.node_id::varchar                                       AS node_id,
       NULL::varchar                                            AS node_url,
       augur_data.watershed_platform_id(r.platform)             AS platform_id,
       e.platform_event_id                                      AS pr_platform_event_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (e.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.issue_events e
JOIN data.pull_requests p ON p.repo_id = e.repo_id AND p.number = e.issue_number
JOIN data.repos r ON r.repo_id = e.repo_id
WHERE e.is_pull_request;

CREATE OR REPLACE VIEW augur_data.pull_request_reviews AS
SELECT v.review_id                                              AS pr_review_id,
       p.pull_request_id                                AS pull_request_id,
       v.repo_id                                        AS repo_id,
       v.author_id                                              AS cntrb_id,
       v.author_association::varchar                            AS pr_review_author_association,
       upper(v.state)::varchar                                  AS pr_review_state,
       v.body::varchar                                          AS pr_review_body,
       (v.submitted_at AT TIME ZONE 'UTC')::timestamp(6)        AS pr_review_submitted_at,
       v.platform_review_id                                     AS pr_review_src_id,
       v.node_id::varchar                                       AS pr_review_node_id,
       v.html_url::varchar                                      AS pr_review_html_url,
       p.html_url::varchar                                      AS pr_review_pull_request_url,
       v.commit_sha::varchar                                    AS pr_review_commit_id,
       augur_data.watershed_platform_id(r.platform)             AS platform_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (v.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.reviews v
JOIN data.pull_requests p ON p.repo_id = v.repo_id AND p.number = v.pr_number
JOIN data.repos r ON r.repo_id = v.repo_id;

CREATE OR REPLACE VIEW augur_data.pull_request_files AS
SELECT augur_data.watershed_row_id('pr_file:' || f.repo_id || ':' || f.pr_number || ':' || f.path) AS pr_file_id,
       p.pull_request_id                                AS pull_request_id,
       f.repo_id                                        AS repo_id,
       f.additions::bigint                                      AS pr_file_additions,
       f.deletions::bigint                                      AS pr_file_deletions,
       f.path::varchar                                          AS pr_file_path,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (f.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.pr_files f
JOIN data.pull_requests p ON p.repo_id = f.repo_id AND p.number = f.pr_number;

-- ---------------------------------------------------------------------------------------
-- Messages: issue and pull request conversation comments (data.messages) and review
-- comments (data.review_comments) share Augur's one message table. Their ids live in two
-- sequences, so a message id is 2 * msg_id for the first and 2 * review_comment_id + 1 for
-- the second: distinct, stable, and the same in every *_message_ref view.
-- ---------------------------------------------------------------------------------------

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
       augur_data.watershed_platform_id(r.platform)             AS pltfrm_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (m.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.messages m
JOIN data.repos r ON r.repo_id = m.repo_id
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
       augur_data.watershed_platform_id(r.platform),
       'Watershed'::varchar,
       NULL::varchar,
       'Watershed'::varchar,
       (c.collected_at AT TIME ZONE 'UTC')::timestamp(0)
FROM data.review_comments c
JOIN data.repos r ON r.repo_id = c.repo_id;

CREATE OR REPLACE VIEW augur_data.issue_message_ref AS
SELECT m.msg_id * 2                                             AS issue_msg_ref_id,
       i.issue_id                                       AS issue_id,
       m.repo_id                                        AS repo_id,
       m.msg_id * 2                                             AS msg_id,
       m.node_id::varchar                                       AS issue_msg_ref_src_node_id,
       m.platform_msg_id                                        AS issue_msg_ref_src_comment_id,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (m.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.messages m
JOIN data.issues i ON i.repo_id = m.repo_id AND i.number = m.parent_number;

CREATE OR REPLACE VIEW augur_data.pull_request_message_ref AS
SELECT m.msg_id * 2                                             AS pr_msg_ref_id,
       p.pull_request_id                                AS pull_request_id,
       m.repo_id                                        AS repo_id,
       m.msg_id * 2                                             AS msg_id,
       m.platform_msg_id                                        AS pr_message_ref_src_comment_id,
       m.node_id::varchar                                       AS pr_message_ref_src_node_id,
       p.html_url::varchar                                      AS pr_issue_url,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (m.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.messages m
JOIN data.pull_requests p ON p.repo_id = m.repo_id AND p.number = m.parent_number;

CREATE OR REPLACE VIEW augur_data.pull_request_review_message_ref AS
SELECT c.review_comment_id * 2 + 1                              AS pr_review_msg_ref_id,
       v.review_id                                              AS pr_review_id,
       c.repo_id                                        AS repo_id,
       c.review_comment_id * 2 + 1                              AS msg_id,
       NULL::varchar                                            AS pr_review_msg_url,
       c.platform_review_id                                     AS pr_review_src_id,
       c.platform_msg_id                                        AS pr_review_msg_src_id,
       c.node_id::varchar                                       AS pr_review_msg_node_id,
       c.diff_hunk::varchar                                     AS pr_review_msg_diff_hunk,
       c.path::varchar                                          AS pr_review_msg_path,
       c.line::bigint                                           AS pr_review_msg_position,
       c.original_line::bigint                                  AS pr_review_msg_original_position,
       c.commit_sha::varchar                                    AS pr_review_msg_commit_id,
       c.original_commit_sha::varchar                           AS pr_review_msg_original_commit_id,
       (c.updated_at AT TIME ZONE 'UTC')::timestamp(6)          AS pr_review_msg_updated_at,
       c.html_url::varchar                                      AS pr_review_msg_html_url,
       p.html_url::varchar                                      AS pr_url,
       c.author_association::varchar                            AS pr_review_msg_author_association,
       NULL::bigint                                             AS pr_review_msg_start_line,
       NULL::bigint                                             AS pr_review_msg_original_start_line,
       NULL::varchar                                            AS pr_review_msg_start_side,
       c.line::bigint                                           AS pr_review_msg_line,
       c.original_line::bigint                                  AS pr_review_msg_original_line,
       NULL::varchar                                            AS pr_review_msg_side,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'Watershed'::varchar                                     AS data_source,
       (c.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.review_comments c
LEFT JOIN data.reviews v ON v.repo_id = c.repo_id AND v.platform_review_id = c.platform_review_id
LEFT JOIN data.pull_requests p ON p.repo_id = c.repo_id AND p.number = c.pr_number;

-- ---------------------------------------------------------------------------------------
-- Not collected yet: the analysis phase (scc code counts, dependency libyear, OpenSSF
-- scorecard) is not implemented. The relations exist with Augur's columns and no rows, so
-- 8Knot's pages that read them show "no data" instead of failing.
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW augur_data.repo_labor AS
SELECT NULL::bigint AS repo_labor_id, NULL::integer AS repo_id, NULL::timestamp(0) AS repo_clone_date,
       NULL::timestamp(0) AS rl_analysis_date, NULL::varchar AS programming_language, NULL::varchar AS file_path,
       NULL::varchar AS file_name, NULL::integer AS total_lines, NULL::integer AS code_lines,
       NULL::integer AS comment_lines, NULL::integer AS blank_lines, NULL::integer AS code_complexity,
       NULL::varchar AS repo_url, NULL::varchar AS tool_source, NULL::varchar AS tool_version,
       NULL::varchar AS data_source, NULL::timestamp(0) AS data_collection_date
WHERE false;

CREATE OR REPLACE VIEW augur_data.repo_deps_libyear AS
SELECT NULL::bigint AS repo_deps_libyear_id, NULL::integer AS repo_id, NULL::varchar AS name,
       NULL::varchar AS requirement, NULL::varchar AS type, NULL::varchar AS package_manager,
       NULL::varchar AS current_verion, NULL::varchar AS latest_version, NULL::varchar AS current_release_date,
       NULL::varchar AS latest_release_date, NULL::double precision AS libyear, NULL::varchar AS tool_source,
       NULL::varchar AS tool_version, NULL::varchar AS data_source, NULL::timestamp(0) AS data_collection_date
WHERE false;

CREATE OR REPLACE VIEW augur_data.repo_deps_scorecard AS
SELECT NULL::bigint AS repo_deps_scorecard_id, NULL::integer AS repo_id, NULL::varchar AS name,
       NULL::varchar AS status, NULL::varchar AS score, NULL::varchar AS tool_source,
       NULL::varchar AS tool_version, NULL::varchar AS data_source, NULL::timestamp(0) AS data_collection_date
WHERE false;

-- =======================================================================================
-- BEGIN commits block: over data.commits / data.commit_files as 0007_commit_data leaves
-- them (message and parents in their own tables, which nothing here reads; affiliations on
-- the commit).
-- =======================================================================================

-- Who wrote a commit: the account the resolver found for its author email
-- (data.contributor_aliases), else, before the resolver has run, the account GitHub
-- attributed the commit to in a pull request, else the account whose public email it is.
CREATE INDEX IF NOT EXISTS contributors_email ON data.contributors (lower(email)) WHERE email <> '';
CREATE OR REPLACE FUNCTION augur_data.watershed_commit_author(repo integer, commit_sha text, author_email text)
    RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(
        (SELECT a.cntrb_id FROM data.contributor_aliases a JOIN data.repos r ON r.repo_id = repo
         WHERE a.namespace = data.alias_namespace(r.platform, r.host) AND a.email = lower(author_email)),
        (SELECT pc.author_id FROM data.pr_commits pc
         WHERE pc.repo_id = repo AND pc.sha = commit_sha AND pc.author_id IS NOT NULL
         ORDER BY pc.pr_number LIMIT 1),
        (SELECT k.cntrb_id FROM data.contributors k
         WHERE k.email <> '' AND lower(k.email) = lower(author_email)
         ORDER BY k.cntrb_id LIMIT 1));

-- Augur's commits: one row per (commit, file). A commit that changes no file (a merge, an
-- empty commit) still has one row, with an empty file name and no lines, so that it counts.
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
       a.cntrb_id                                               AS cmt_ght_author_id,
       NULL::integer                                            AS cmt_ght_committer_id,
       (c.committer_date AT TIME ZONE 'UTC')::timestamp(0)      AS cmt_ght_committed_at,
       c.committer_date::timestamptz(0)                         AS cmt_committer_timestamp,
       c.author_date::timestamptz(0)                            AS cmt_author_timestamp,
       k.login::varchar                                         AS cmt_author_platform_username,
       'Watershed'::varchar                                     AS tool_source,
       NULL::varchar                                            AS tool_version,
       'git'::varchar                                           AS data_source,
       (c.collected_at AT TIME ZONE 'UTC')::timestamp(0)        AS data_collection_date
FROM data.commits c
LEFT JOIN data.commit_files f ON f.repo_id = c.repo_id AND f.sha = c.sha
CROSS JOIN LATERAL (SELECT augur_data.watershed_commit_author(c.repo_id, c.sha, c.author_email) AS cntrb_id) a
LEFT JOIN data.contributors k ON k.cntrb_id = a.cntrb_id;

-- ======================================= END commits block ===============================

-- ---------------------------------------------------------------------------------------
-- The explorer_* materialized views 8Knot reads. Each has a unique index (so
-- REFRESH MATERIALIZED VIEW CONCURRENTLY works and readers are never blocked) and an index
-- for 8Knot's `repo_id IN (...)` / `id IN (...)`. Created empty: augur_data.refresh_explorer_views()
-- (or shared.db.augur.refresh_explorer_views) fills them.
-- ---------------------------------------------------------------------------------------

-- Who did what, where, when; rank 1 is a contributor's latest action in a repository.
-- Unlike Augur: an issue comment is credited to its author (Augur: to the issue's author),
-- comments on open issues count (Augur drops them: closed_at <> msg_timestamp is NULL), and
-- an action whose actor is unknown is left out (Augur keeps it with a NULL id).
CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_contributor_actions AS
SELECT a.cntrb_id,
       a.created_at,
       a.repo_id,
       a.action,
       r.name::varchar AS repo_name,
       k.login::varchar AS login,
       row_number() OVER (PARTITION BY a.cntrb_id, a.repo_id
                          ORDER BY a.created_at DESC, a.action, a.source_key) AS rank
FROM (
    SELECT augur_data.watershed_commit_author(c.repo_id, c.sha, c.author_email) AS cntrb_id,
           c.author_date AS created_at, c.repo_id, 'commit'::text AS action, c.sha AS source_key
    FROM data.commits c
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
CREATE UNIQUE INDEX IF NOT EXISTS explorer_contributor_actions_key
    ON augur_data.explorer_contributor_actions (repo_id, cntrb_id, rank);

-- Assignment events of issues; one row with NULL assignment columns for an issue never
-- assigned. The assignee is the account assigned (Augur's issue_events.cntrb_id is the actor).
CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_issue_assignments AS
SELECT i.issue_id,
       i.repo_id AS id,
       (i.created_at AT TIME ZONE 'UTC')::timestamp(0) AS created,
       (i.closed_at AT TIME ZONE 'UTC')::timestamp(0) AS closed,
       (e.created_at AT TIME ZONE 'UTC')::timestamp(0) AS assign_date,
       e.event::varchar AS assignment_action,
       e.assignee_id AS assignee,
       coalesce(e.node_id, e.platform_event_id::text)::varchar AS node_id
FROM data.issues i
LEFT JOIN data.issue_events e
       ON e.repo_id = i.repo_id AND e.issue_number = i.number AND NOT e.is_pull_request
      AND e.event IN ('assigned', 'unassigned')
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_issue_assignments_key
    ON augur_data.explorer_issue_assignments (id, issue_id, node_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_pr_assignments AS
SELECT p.pull_request_id,
       p.repo_id AS id,
       (p.created_at AT TIME ZONE 'UTC')::timestamp(0) AS created,
       (p.closed_at AT TIME ZONE 'UTC')::timestamp(0) AS closed,
       (e.created_at AT TIME ZONE 'UTC')::timestamp(0) AS assign_date,
       e.event::varchar AS assignment_action,
       e.assignee_id AS assignee,
       coalesce(e.node_id, e.platform_event_id::text)::varchar AS node_id
FROM data.pull_requests p
LEFT JOIN data.issue_events e
       ON e.repo_id = p.repo_id AND e.issue_number = p.number AND e.is_pull_request
      AND e.event IN ('assigned', 'unassigned')
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_pr_assignments_key
    ON augur_data.explorer_pr_assignments (id, pull_request_id, node_id);

-- Every response (conversation comment or review comment) to a pull request, one row per
-- distinct (time, author) as in Augur's UNION; one row with NULL response for a pull request
-- nobody answered. 8Knot reads it with SELECT *: exactly Augur's seven columns.
CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_pr_response AS
SELECT p.pull_request_id,
       p.repo_id AS id,
       p.author_id AS cntrb_id,
       m.msg_timestamp,
       m.msg_cntrb_id,
       (p.created_at AT TIME ZONE 'UTC')::timestamp(0) AS pr_created_at,
       (p.closed_at AT TIME ZONE 'UTC')::timestamp(0) AS pr_closed_at
FROM data.pull_requests p
LEFT JOIN (
    SELECT c.repo_id, c.pr_number, (c.created_at AT TIME ZONE 'UTC')::timestamp(0) AS msg_timestamp,
           c.author_id AS msg_cntrb_id
    FROM data.review_comments c
    UNION
    SELECT m.repo_id, m.parent_number, (m.created_at AT TIME ZONE 'UTC')::timestamp(0), m.author_id
    FROM data.messages m
    JOIN data.pull_requests p2 ON p2.repo_id = m.repo_id AND p2.number = m.parent_number
) m ON m.repo_id = p.repo_id AND m.pr_number = p.number
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_pr_response_key
    ON augur_data.explorer_pr_response (id, pull_request_id, msg_timestamp, msg_cntrb_id);

-- Lines of code per language from the latest analysis (repo_labor): empty until the
-- analysis phase exists.
CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_repo_languages AS
SELECT e.repo_id,
       r.repo_git,
       r.repo_name,
       e.programming_language,
       e.code_lines,
       e.files
FROM augur_data.repo r
JOIN (
    SELECT d.repo_id, d.programming_language, sum(d.code_lines) AS code_lines, count(*)::integer AS files
    FROM augur_data.repo_labor d
    JOIN (SELECT repo_id, max(data_collection_date) AS last_collected
          FROM augur_data.repo_labor GROUP BY repo_id) recent
      ON recent.repo_id = d.repo_id AND d.data_collection_date > recent.last_collected - interval '5 minutes'
    GROUP BY d.repo_id, d.programming_language
) e ON e.repo_id = r.repo_id
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_repo_languages_key
    ON augur_data.explorer_repo_languages (repo_id, programming_language);

CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_repo_files AS
SELECT rl.repo_id,
       r.repo_name,
       r.repo_path,
       rl.rl_analysis_date,
       rl.file_path,
       rl.file_name
FROM augur_data.repo_labor rl
JOIN augur_data.repo r ON r.repo_id = rl.repo_id
WHERE (rl.repo_id, rl.rl_analysis_date) IN (
    SELECT DISTINCT ON (repo_id) repo_id, rl_analysis_date
    FROM augur_data.repo_labor
    ORDER BY repo_id, rl_analysis_date DESC)
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_repo_files_key
    ON augur_data.explorer_repo_files (repo_id, file_path, file_name, rl_analysis_date);

CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_pr_files AS
SELECT DISTINCT
       f.path::varchar AS file_path,
       p.pull_request_id,
       f.repo_id
FROM data.pr_files f
JOIN data.pull_requests p ON p.repo_id = f.repo_id AND p.number = f.pr_number
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_pr_files_key
    ON augur_data.explorer_pr_files (repo_id, pull_request_id, file_path);

-- Authors and reviewers of the pull requests that touched a file, as the first 15
-- characters of their ids (8Knot's own definition; the ids 8Knot compares them with are
-- truncated the same way).
CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data.explorer_cntrb_per_file AS
SELECT f.repo_id,
       f.path::varchar AS file_path,
       string_agg(DISTINCT left(p.author_id::text, 15), ',') AS cntrb_ids,
       string_agg(DISTINCT left(v.author_id::text, 15), ',') AS reviewer_ids
FROM data.pr_files f
JOIN data.pull_requests p ON p.repo_id = f.repo_id AND p.number = f.pr_number
LEFT JOIN data.reviews v ON v.repo_id = f.repo_id AND v.pr_number = f.pr_number
GROUP BY f.repo_id, f.path
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS explorer_cntrb_per_file_key
    ON augur_data.explorer_cntrb_per_file (repo_id, file_path);

-- ---------------------------------------------------------------------------------------
-- Refreshing. Only a materialized view's owner may refresh it; these functions run as the
-- owner (SECURITY DEFINER) and only the writer role may call them, so the processor (or
-- whoever it delegates the periodic refresh to) refreshes without owning anything.
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION augur_data.explorer_view_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    RETURN ARRAY['explorer_contributor_actions', 'explorer_issue_assignments', 'explorer_pr_assignments',
                 'explorer_pr_response', 'explorer_repo_languages', 'explorer_repo_files',
                 'explorer_pr_files', 'explorer_cntrb_per_file'];

-- One view: concurrently (readers keep reading the old rows) once it has been filled,
-- plainly the first time (PostgreSQL cannot refresh an empty one concurrently).
CREATE OR REPLACE FUNCTION augur_data.refresh_explorer_view(view_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT view_name = ANY (augur_data.explorer_view_names()) THEN
        RAISE EXCEPTION 'not an explorer view: %', view_name;
    END IF;
    IF (SELECT ispopulated FROM pg_matviews WHERE schemaname = 'augur_data' AND matviewname = view_name) THEN
        EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY augur_data.%I', view_name);
    ELSE
        EXECUTE format('REFRESH MATERIALIZED VIEW augur_data.%I', view_name);
    END IF;
END
$$;

-- All of them, in one transaction (psql users; the Python helper refreshes one per
-- transaction so locks are held briefly).
CREATE OR REPLACE FUNCTION augur_data.refresh_explorer_views() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY augur_data.explorer_view_names() LOOP
        PERFORM augur_data.refresh_explorer_view(name);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION augur_data.refresh_explorer_view(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION augur_data.refresh_explorer_views() FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_reader') THEN
        GRANT USAGE ON SCHEMA augur_data TO watershed_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA augur_data TO watershed_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_writer') THEN
        GRANT USAGE ON SCHEMA augur_data TO watershed_writer;
        GRANT SELECT ON ALL TABLES IN SCHEMA augur_data TO watershed_writer;
        GRANT EXECUTE ON FUNCTION augur_data.refresh_explorer_view(text) TO watershed_writer;
        GRANT EXECUTE ON FUNCTION augur_data.refresh_explorer_views() TO watershed_writer;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'augur_data grants not applied: %', SQLERRM;
END
$$;
