#!/usr/bin/env python3
"""Compute or check a RabbitMQ password hash for deploy/rabbitmq/definitions.json.

RabbitMQ's ``rabbit_password_hashing_sha256`` stores
``base64(salt + sha256(salt + utf8(password)))`` with a random 4-byte salt.
Definitions files cannot hold clear-text passwords, so the hashes there are
produced with this script.

    python deploy/rabbitmq/hash_password.py PASSWORD            # print a new hash
    python deploy/rabbitmq/hash_password.py --check HASH PASSWORD  # exit 0 if it matches
    python deploy/rabbitmq/hash_password.py --update NAME=PASSWORD [...]
        # rewrite the password_hash of those users in definitions.json

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any

ALGORITHM = "rabbit_password_hashing_sha256"
SALT_BYTES = 4
DEFINITIONS = Path(__file__).with_name("definitions.json")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Return the RabbitMQ sha256 password hash of ``password``."""
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes")
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def check_password(password_hash: str, password: str) -> bool:
    """True when ``password_hash`` is the RabbitMQ sha256 hash of ``password``."""
    raw = base64.b64decode(password_hash)
    salt = raw[:SALT_BYTES]
    return hmac.compare_digest(hash_password(password, salt), password_hash)


def update_definitions(pairs: list[str], path: Path = DEFINITIONS) -> None:
    definitions = json.loads(path.read_text(encoding="utf-8"))
    users = {user["name"]: user for user in definitions.get("users", [])}
    for pair in pairs:
        name, sep, password = pair.partition("=")
        if not sep or name not in users:
            # The name only: what follows '=' is a password (and without '=' the whole may be one).
            raise SystemExit(f"unknown user {name!r} in definitions.json" if sep else
                             "an argument of --update has no '=': give NAME=PASSWORD")
        users[name]["password_hash"] = hash_password(password)
        users[name]["hashing_algorithm"] = ALGORITHM
    path.write_text(json.dumps(definitions, indent=2) + "\n", encoding="utf-8")


class _Parser(argparse.ArgumentParser):
    """No abbreviations, and an unrecognised argument named without its value (it may
    be a password). The rule of ``jumelage.cli.ArgumentParser``, repeated here: this
    script is standard library only, for ops machines without the project installed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            options = [a.split("=", 1)[0] if a.startswith("--") else a[:2] for a in extras if a.startswith("-")]
            self.error(f"unrecognized arguments: {' '.join(options)} (values are not shown)" if options
                       else "unrecognized arguments (not shown: one may be a secret)")
        return parsed


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", metavar="HASH", help="verify PASSWORD against HASH")
    group.add_argument(
        "--update",
        action="store_true",
        help="arguments are NAME=PASSWORD pairs to rewrite in definitions.json",
    )
    parser.add_argument("values", nargs="+", metavar="PASSWORD")
    args = parser.parse_args(argv)

    if args.update:
        update_definitions(args.values)
        return 0
    if args.check is not None:
        try:
            ok = check_password(args.check, args.values[0])
        except ValueError:  # not base64 (binascii.Error): one line, no traceback quoting the arguments
            print("HASH is not a RabbitMQ password hash (base64)", file=sys.stderr)
            return 2
        print("match" if ok else "no match")
        return 0 if ok else 1
    for password in args.values:
        print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
