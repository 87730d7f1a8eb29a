"""``argparse`` as every command line of the repository uses it: no abbreviations,
and no value of an unrecognised argument echoed (it may be a secret)."""

from __future__ import annotations

import argparse
from typing import Any


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` as every command line here uses it:

    * no abbreviations: ``--secret VALUE`` is not taken for ``--secret-file``
      (which then printed the secret in a traceback, as the file it could not read);
    * an unrecognised argument is named, never quoted with its value: a mistyped
      option may be followed by a secret (``--secret S3CRET``).

    Its subcommand parsers are of this class too (``add_subparsers`` uses the parent's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(unrecognised(extras))
        return parsed


def unrecognised(extras: list[str]) -> str:
    """Names the unrecognised options, without any value given with them or after them."""
    options = [a.split("=", 1)[0] if a.startswith("--") else a[:2] for a in extras if a.startswith("-") and a != "-"]
    if not options:
        return "unrecognized arguments (not shown: one may be a secret)"
    return f"unrecognized arguments: {' '.join(options)} (values are not shown)"
