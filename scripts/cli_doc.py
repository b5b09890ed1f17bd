"""Refresh the `--help` blocks of docs/cli.md from the command itself (tests/test_cli.py checks they match).

    python scripts/cli_doc.py
"""
from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from xlnet.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
BLOCK = re.compile(r"```\n\$ xlnet (.*?) --help\n.*?```\n", re.S)


def help_block(command: str) -> str:
    text = CliRunner().invoke(cli, [*command.split(), "--help"], prog_name="xlnet", terminal_width=100).output
    return f"```\n$ xlnet {command} --help\n{text.rstrip()}\n```\n"


def refreshed(doc: str) -> str:
    return BLOCK.sub(lambda m: help_block(m[1]), doc)


if __name__ == "__main__":
    DOC.write_text(refreshed(DOC.read_text()))
