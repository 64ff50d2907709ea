"""The `jiedao` command."""

import sys


def main() -> None:
    print("jiedao: commands not wired yet", file=sys.stderr)
    sys.exit(2)
