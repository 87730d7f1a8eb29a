"""A service's database backed up while it runs, and restored.

- **SQLite**: SQLite's online backup (``sqlite3.Connection.backup``), which copies
  a consistent snapshot page by page while the service goes on writing (WAL):
  ``python -m jumelage.backup sqlite data/convention.db backups/convention.db``.
  Restore: stop the service, put the copy in the database's place (removing its
  ``-wal`` and ``-shm`` files), start it.
- **PostgreSQL**: the server's own tools, ``pg_dump --format=custom`` while it runs
  (one consistent snapshot), ``pg_restore`` into a fresh database or schema; or
  ``pg_basebackup`` with WAL archiving for point-in-time recovery. The README's
  security section gives the commands.

Messages in flight come out right either way: an event recorded before the backup
and published after it is still pending in the copy, and the restored service's
relay publishes it again (the subscribers' inboxes drop the copy); what the
service did after the backup is lost with its events' rows, which is the recovery
point. ``tests/test_backup_restore.py`` shows both, while events flow.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from jumelage.arguments import ArgumentParser


def sqlite_online_backup(source: Path, target: Path, *, pages_per_step: int = 256) -> None:
    """Copy the live database ``source`` to ``target`` (replaced) as one consistent
    snapshot, ``pages_per_step`` pages at a time so the writers are not held up."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)  # reads only (a read-only open could not read the WAL)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=pages_per_step)
        finally:
            dst.close()
    finally:
        src.close()
    partial.replace(target)  # never a half-written backup under the final name


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m jumelage.backup", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    sqlite = sub.add_parser("sqlite", help="online backup of a service's SQLite database")
    sqlite.add_argument("source", type=Path)
    sqlite.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"no database at {args.source}", file=sys.stderr)
        return 2
    sqlite_online_backup(args.source, args.target)
    print(f"backed up {args.source} to {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
