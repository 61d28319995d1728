"""What tests of PostgreSQL faults and locks share: a connection of another client."""

from __future__ import annotations

import psycopg
from django.db import connection


def other_connection(*, autocommit: bool = True) -> psycopg.Connection:
    """A connection of its own to the test database: another request's, or an operator's."""
    params = connection.get_connection_params()
    dsn = {
        key: params[key] for key in ("dbname", "user", "host", "port", "password") if key in params
    }
    return psycopg.connect(**dsn, autocommit=autocommit)
