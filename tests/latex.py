"""Compiling a LaTeX document with a real TeX engine (Debian's texlive-latex-base in CI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.budget import CI

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None and not CI, reason="pdflatex is not installed (CI installs it)"
)


def compiles(source: str, folder: Path, name: str = "doc") -> None:
    """``source`` builds a PDF with no error and no line running into the margin."""
    assert PDFLATEX is not None, "CI installs texlive-latex-base: pdflatex must be there"
    (folder / f"{name}.tex").write_text(source, "utf-8")
    done = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = (folder / f"{name}.log").read_text("utf-8", errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert (folder / f"{name}.pdf").stat().st_size > 1000
    assert "Overfull" not in log, log[-3000:]
