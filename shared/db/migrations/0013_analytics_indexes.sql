-- Indexes for the Augur-compatible layer at scale (bench/analytics.py: 8Knot's queries for 100
-- of 1,000 repositories). Each serves a lookup the views of 0012/0014 make; none changes a row.
-- Built inside the migration's transaction: writes to these tables wait while they are built
-- (seconds on a database of 1,000 repositories).

-- augur_data.message ids are 2 * msg_id (conversation comments) and 2 * review_comment_id + 1
-- (review comments); 8Knot joins *_message_ref to message on them. Without these every such
-- join hashes or sorts every message of every repository.
CREATE INDEX IF NOT EXISTS messages_augur_msg_id ON data.messages ((msg_id * 2));
CREATE INDEX IF NOT EXISTS review_comments_augur_msg_id ON data.review_comments ((review_comment_id * 2 + 1));

-- augur_data.contributors_aliases keeps one account per lower-cased address, the smallest id:
-- read in this order it needs no sort, and it answers "does the resolver know this address?"
-- for the other sources of addresses.
CREATE INDEX IF NOT EXISTS contributor_aliases_lower_email
    ON data.contributor_aliases (lower(email), cntrb_id, email, namespace) WHERE cntrb_id IS NOT NULL;

-- The accounts GitHub attributed pull request commits to, once per (account, address), read
-- from the index instead of sorting every pull request commit.
CREATE INDEX IF NOT EXISTS pr_commits_author_account
    ON data.pr_commits (author_id, author_email) WHERE author_id IS NOT NULL AND author_email <> '';
CREATE INDEX IF NOT EXISTS pr_commits_committer_account
    ON data.pr_commits (committer_id, committer_email) WHERE committer_id IS NOT NULL AND committer_email <> '';

-- An account by its public email, the smallest id first (augur_data.watershed_commits, and the
-- 0012 function it replaces): with only (lower(email)) the planner, having no statistics for a
-- partial expression index, expected ~50 accounts per address and walked the primary key in id
-- order instead, a whole-table scan per commit (150 s for 1,000 repositories). This index
-- answers in id order directly; it replaces 0012's contributors_email.
CREATE INDEX IF NOT EXISTS contributors_lower_email_id ON data.contributors (lower(email), cntrb_id) WHERE email <> '';
DROP INDEX IF EXISTS data.contributors_email;
