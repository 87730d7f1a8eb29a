#!/usr/bin/env python3
"""Make the RabbitMQ users file, or compute or check one password hash.

``definitions.json`` (in the repository) holds the vhost, permissions, topic
permissions, policies, exchanges, queues and bindings, but no user: each
installation makes its own users file from passwords it keeps secret, and the
broker loads it first (``definitions.d/10-users.json``, then
``20-definitions.json``; files in a definitions directory load in name order).

RabbitMQ's ``rabbit_password_hashing_sha256`` stores
``base64(salt + sha256(salt + utf8(password)))`` with a random 4-byte salt.

    python deploy/rabbitmq/hash_password.py --users deploy/rabbitmq/users.json
        # the users file, passwords from RABBITMQ_ADMIN_PASSWORD, CONVENTION_AMQP_PASSWORD,
        # SCHEDULING_AMQP_PASSWORD, NOTIFICATION_AMQP_PASSWORD, WEB_AMQP_PASSWORD
    python deploy/rabbitmq/hash_password.py PASSWORD            # print a new hash
    python deploy/rabbitmq/hash_password.py --check HASH PASSWORD  # exit 0 if it matches

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ALGORITHM = "rabbit_password_hashing_sha256"
SALT_BYTES = 4
VHOST = "jumelage"
ADMIN = "admin"
# Every process that connects has its own user: the three services, and the web app
# (which only reads the exchange, through a live queue of its own).
SERVICES = ("convention", "scheduling", "notification", "web")
PASSWORD_VARIABLES = {ADMIN: "RABBITMQ_ADMIN_PASSWORD", **{s: f"{s.upper()}_AMQP_PASSWORD" for s in SERVICES}}
MIN_LENGTH = 16
URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")  # the services' AMQP_URL carries the password as is


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


def users_definitions(passwords: dict[str, str], *, admin: str = ADMIN, vhost: str = VHOST) -> dict:
    """The users file: every user in ``passwords`` (``admin`` tagged administrator,
    with every permission on ``vhost``; the others, service users, no tag: their
    permissions are in definitions.json), each with a fresh salted hash."""
    return {
        "vhosts": [{"name": vhost}],  # so this file loads before definitions.json
        "users": [
            {"name": name, "password_hash": hash_password(password), "hashing_algorithm": ALGORITHM,
             "tags": ["administrator"] if name == admin else []}
            for name, password in passwords.items()
        ],
        "permissions": [{"user": admin, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
    }


def passwords_from_environment(environ: dict[str, str]) -> dict[str, str]:
    """Each user's password from its variable; a missing or short one stops
    here, naming the variable, never the value."""
    passwords, problems = {}, []
    for user, variable in PASSWORD_VARIABLES.items():
        value = environ.get(variable, "")
        if len(value) < MIN_LENGTH:
            problems.append(f"{variable} is {'not set' if not value else f'shorter than {MIN_LENGTH} characters'}")
        elif not URL_SAFE.fullmatch(value):
            problems.append(f"{variable} has characters an AMQP URL would need escaped")
        passwords[user] = value
    if problems:
        raise SystemExit("; ".join(problems) + " (see deploy/rabbitmq/README.md)")
    return passwords


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
        "--users",
        metavar="PATH",
        type=Path,
        help=f"write the users file to PATH, passwords from {', '.join(PASSWORD_VARIABLES.values())}",
    )
    parser.add_argument("values", nargs="*", metavar="PASSWORD")
    args = parser.parse_args(argv)

    if args.users is not None:
        users = users_definitions(passwords_from_environment(dict(os.environ)))
        # Readable by all (0644): Compose bind-mounts it as is, and the broker runs as
        # another user in its container. It holds salted hashes of long random
        # passwords, never a password; git ignores it.
        fd = os.open(args.users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(users, indent=2) + "\n")
        print(f"wrote {len(users['users'])} users to {args.users}")
        return 0
    if not args.values:
        parser.error("give a PASSWORD, or --users PATH")
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
