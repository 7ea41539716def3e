"""The errors the library raises. The CLI turns every one of them into exit code 2."""

from __future__ import annotations

from convcalc.escape import terminal


def format_path(path: list[str | int]) -> str:
    """``['layers', 3, 'body', 1]`` → ``layers[3].body[1]``: how errors and reports name a place."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else str(key)
    return text


def shown(text: str, limit: int = 60) -> str:
    """A name from the input as it may appear in a one-line message: control characters
    escaped (a newline must not start a line of its own), and cut to ``limit`` characters."""
    clean = terminal(text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


class ConvcalcError(Exception):
    """Invalid input of any kind: a message for a person, no traceback."""


class SpecError(ConvcalcError):
    """Something wrong in a spec file, located as precisely as we can.

    Renders as ``FILE:LINE: PATH (TYPE), field FIELD: MESSAGE``; the parts not known are left out.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        layer_type: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        self.layer_type = layer_type
        self.field = field

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}"
        what = self.path or ""
        if self.layer_type:
            what += f" ({shown(self.layer_type)})"
        if self.field:
            what += f"{',' if what else ''} field {shown(self.field)}".lstrip()
        parts = [p for p in (where, what.strip(), self.message) if p]
        return ": ".join(parts)
