"""NATS JetStream and PostgreSQL as local child processes, for development and tests.

    EmbeddedNats(data_dir, port)       nats-server with JetStream, store in data_dir
    EmbeddedPostgres(data_dir, port)   a PostgreSQL cluster with database `watershed`
    EmbeddedStack(data_dir)            both, with ports kept across restarts, findable
                                       by other processes through discover_running()

Errors: EmbeddedServerError, and its subclass StackAlreadyRunning.
"""

from shared.embedded._proc import EmbeddedServerError, free_port
from shared.embedded.nats import EmbeddedNats, find_nats_server
from shared.embedded.postgres import EmbeddedPostgres, find_postgres_bindir
from shared.embedded.stack import (
    EmbeddedStack,
    StackAlreadyRunning,
    StackInfo,
    default_data_dir,
    discover_running,
)

__all__ = [
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "EmbeddedStack",
    "StackAlreadyRunning",
    "StackInfo",
    "default_data_dir",
    "discover_running",
    "find_nats_server",
    "find_postgres_bindir",
    "free_port",
]
