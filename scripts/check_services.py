"""Check that the PostgreSQL and Redis servers used by the tests answer (exit 1 if one does not).

    check_services.py postgres URL   # connects, and creates URL's database if it is missing
    check_services.py redis URL      # PING
"""

from __future__ import annotations

import sys


def check_postgres(url: str) -> str | None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    params = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username or "postgres",
              "password": u.password, "connect_timeout": 3}
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(u.database)))
                print(f"created database {u.database}")
    except psycopg.Error as exc:
        return f"PostgreSQL at {params['host']}:{params['port']} does not answer: {str(exc).strip()}"
    return None


def check_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"postgres", "redis"}:
        print(__doc__, file=sys.stderr)
        return 2
    problem = (check_postgres if argv[0] == "postgres" else check_redis)(argv[1])
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
