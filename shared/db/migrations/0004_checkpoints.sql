-- Positions inside a pass of an oldest-first stream. A checkpoint waits in
-- pending_checkpoints until every message its job attempt sent before it is committed,
-- then becomes the stream's checkpoint, whatever becomes of the job: the next pass (or
-- the next attempt of a full pass, by job_id) resumes there instead of starting over.
-- A job that completes makes its cursors current and clears the repository's checkpoints.
CREATE TABLE IF NOT EXISTS ops.pending_checkpoints (
    job_id  text NOT NULL,
    attempt integer NOT NULL,
    seq     integer NOT NULL,
    repo_id integer NOT NULL,
    stream  text NOT NULL,
    value   timestamptz NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);

CREATE TABLE IF NOT EXISTS ops.checkpoints (
    repo_id    integer NOT NULL REFERENCES data.repos ON DELETE CASCADE,
    stream     text NOT NULL,
    job_id     text NOT NULL,
    value      timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, stream)
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
