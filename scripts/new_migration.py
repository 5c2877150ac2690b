"""Write the next Alembic migration from the difference between the models and the migrations.

    .venv/bin/python scripts/new_migration.py "add timers table"

It migrates a scratch SQLite database to the current head, compares it with the models
(``app.models``) and writes ``app/migrations/versions/<date>_<NNNN>_<slug>.py``. Review the
file before committing it: autogenerate does not see renames and some server defaults.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from app import create_app
from app.migrations import alembic_config, head_revision, upgrade


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].strip():
        print('usage: new_migration.py "what changed"', file=sys.stderr)
        return 2
    head = head_revision()
    next_id = "0001" if head is None else (f"{int(head) + 1:04d}" if head.isdigit() else None)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{Path(tmp) / 'scratch.db'}"})
        with app.app_context():
            upgrade()
            command.revision(alembic_config(), message=argv[0], autogenerate=True, rev_id=next_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
