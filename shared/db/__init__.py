"""PostgreSQL access: the connection pool, the ordered SQL migrations, scratch databases."""

from shared.db.migrate import apply_migrations, migration_files
from shared.db.pool import Role, connect_pool
from shared.db.scratch import scratch_database

__all__ = ["Role", "apply_migrations", "connect_pool", "migration_files", "scratch_database"]
