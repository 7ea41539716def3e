"""The project's documents, README.md and the site's pages docs/**/*.md, and their fenced code
blocks: the tests run the examples they show (tests/test_readme.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def documents() -> list[Path]:
    """README.md, then every page of docs/, in a stable order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def blocks(text: str, language: str) -> list[str]:
    """The contents of the fenced blocks of ``language`` (```text, ```yaml, ...) in ``text``."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def all_blocks(language: str) -> list[tuple[Path, str]]:
    """Every fenced block of ``language`` in every document, with its document."""
    return [(path, block) for path in documents() for block in blocks(read(path), language)]
