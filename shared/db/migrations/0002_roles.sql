-- Only the processor writes rows: other services connect as (or SET ROLE to) the
-- read-only role. Role creation needs CREATEROLE; on a managed server where the
-- migrating user lacks it, an operator creates the roles and this step is a no-op.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_reader') THEN
        CREATE ROLE watershed_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_writer') THEN
        CREATE ROLE watershed_writer NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'watershed roles not created: %', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_reader') THEN
        GRANT USAGE ON SCHEMA data, ops TO watershed_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA data, ops TO watershed_reader;
        ALTER DEFAULT PRIVILEGES IN SCHEMA data, ops GRANT SELECT ON TABLES TO watershed_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'watershed_writer') THEN
        GRANT USAGE ON SCHEMA data, ops TO watershed_writer;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA data, ops TO watershed_writer;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA data, ops TO watershed_writer;
        ALTER DEFAULT PRIVILEGES IN SCHEMA data, ops GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO watershed_writer;
        ALTER DEFAULT PRIVILEGES IN SCHEMA data, ops GRANT USAGE, SELECT ON SEQUENCES TO watershed_writer;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'watershed grants not applied: %', SQLERRM;
END
$$;
