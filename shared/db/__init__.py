"""PostgreSQL access: the connection pool and the ordered SQL migrations."""

from shared.db.migrate import apply_migrations, migration_files
from shared.db.pool import Role, connect_pool

__all__ = ["Role", "apply_migrations", "connect_pool", "migration_files"]
