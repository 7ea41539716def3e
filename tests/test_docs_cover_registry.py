"""Every layer type of the registry is documented: a row in the README's type tables and a
section in docs/size-rules.md (the checklist of docs/architecture.md asks for both)."""

from __future__ import annotations

import re
from pathlib import Path

from convcalc.layers.registry import KINDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SIZE_RULES = (ROOT / "docs" / "size-rules.md").read_text(encoding="utf-8")

NAME = re.compile(r"`([a-z][a-z0-9_]*)`")
# a bullet that starts with the types it is about: "- `relu`, `relu6` and `tanh`: ..."
LEAD = re.compile(r"^\s*- ((?:`[a-z][a-z0-9_]*`(?:,| and| or)? ?)+)")


def readme_rows(text: str) -> dict[str, int]:
    """Type → line of its row, for every Markdown table whose first column is ``type``: the
    backticked names in a row's first cell."""
    rows: dict[str, int] = {}
    in_table = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == "type":
            in_table = True
        elif in_table and not set(cells[0]) <= {"-", ":"}:
            for name in NAME.findall(cells[0]):
                rows.setdefault(name, number)
    return rows


def size_rule_sections(text: str) -> set[str]:
    """The types docs/size-rules.md gives a section: named in backticks in a heading, or in the
    run of backticked names a bullet starts with."""
    found: set[str] = set()
    items: list[str] = []  # each bullet with its continuation lines joined
    for line in text.splitlines():
        if line.startswith("#"):
            found.update(NAME.findall(line))
        elif LEAD.match(line) or line.lstrip().startswith("- "):
            items.append(line)
        elif items and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        else:
            items.append("")
    for item in items:
        if match := LEAD.match(item):
            found.update(NAME.findall(match.group(1)))
    return found


def test_the_parsers_read_what_they_should() -> None:
    """The two readers on small pieces written for them, so that a pass means something."""
    table = "| type | fields |\n|---|---|\n| `conv`, `pool` | `kernel_size` |\n\n| `x` | y |\n"
    assert set(readme_rows(table)) == {"conv", "pool"}
    rules = "## Pooling: `maxpool`, `avgpool`\n\n- `relu`, `tanh` and `elu`: same shape, `p`\n"
    rules += "- `a` is `b`\nthe `noted` type\n  - `nested`: x\n- `wrapped`,\n  `next`: x\n"
    rules += "\n  `indented` after a blank line\n"
    wanted = {"maxpool", "avgpool", "relu", "tanh", "elu", "a", "nested", "wrapped", "next"}
    assert size_rule_sections(rules) == wanted


def test_every_type_has_a_readme_row() -> None:
    rows = readme_rows(README)
    missing = [name for name in KINDS if name not in rows]
    assert not missing, f"README.md's type tables have no row for {', '.join(missing)}"


def test_the_readme_rows_name_only_real_types() -> None:
    unknown = {name: line for name, line in readme_rows(README).items() if name not in KINDS}
    assert not unknown, f"README.md's type tables name unknown types: {unknown}"


def test_every_type_has_a_size_rules_section() -> None:
    sections = size_rule_sections(SIZE_RULES)
    missing = [name for name in KINDS if name not in sections]
    assert not missing, f"docs/size-rules.md has no section for {', '.join(missing)}"
