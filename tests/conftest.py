"""Shared fixtures, and what a run takes (tests/budget.py): the default ``pytest`` is the quick
set (the tests marked ``full`` and all but each parametrized test's first parameters are
deselected); CI (CI=true) and ``pytest --full`` run everything — the tests marked ``full`` and
Hypothesis' long profile, which draws fresh examples every run: the run's seed is printed in
pytest's header, and ``pytest --hypothesis-seed=N`` draws the same examples again."""

from __future__ import annotations

import importlib.abc
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, register_random, settings

from convcalc.cli import cli
from tests import budget

# Hypothesis' own CI settings (used where CI is set) derandomize: every run would draw the same
# examples. This profile explores instead, with one seed per run (pytest_configure below).
settings.register_profile(
    "ci",
    max_examples=1000,  # the whole suite stays within CI's 30 minutes
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=5, deadline=None)
FULL_ONLY = "full run only: CI=true or pytest --full"


class _NoKeras(importlib.abc.MetaPathFinder):
    """The quick run leaves the Keras oracle to the full run: there, importing Keras (from a
    test, or from a file a test exports and runs) skips the test; importing it while a module
    is collected skips the module. Importing Keras and building its models took a third of the
    quick run's time."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "keras" or name.startswith("keras."):
            raise pytest.skip.Exception(KERAS_FULL_ONLY, allow_module_level=True)
        return None


KERAS_FULL_ONLY = "the Keras oracle runs in the full run only: CI=true or pytest --full"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The run is full in CI or with ``--full`` (:data:`tests.budget.FULL`, set before any test
    module is imported); a full run draws the ``ci`` profile, with one fresh seed for the whole
    run unless ``--hypothesis-seed`` names one (set before Hypothesis' plugin reads it); a
    pytest-xdist worker takes its controller's seed (:func:`pytest_configure_node`)."""
    budget.FULL = budget.CI or bool(config.getoption("--full"))
    if not budget.FULL and "keras" not in sys.modules:
        sys.meta_path.insert(0, _NoKeras())
    profile = "ci" if budget.FULL else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", profile))
    if budget.FULL and config.getoption("hypothesis_seed", None) is None:
        worker = getattr(config, "workerinput", None)
        seed = worker["hypothesis_seed"] if worker else str(secrets.randbelow(2**32))
        config.option.hypothesis_seed = seed


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's controller hands each worker its seed: the one its header prints."""
    node.workerinput["hypothesis_seed"] = node.config.option.hypothesis_seed


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside the full run, every test marked ``full`` is deselected (counted in pytest's last
    line, named with ``--collect-only``) — except, with ``--update-golden``, those that write
    goldens (they take ``update_golden``). A parametrized test runs its first parameter set not
    marked ``full`` (in the order written) and counts the others as ``full``
    (:func:`tests.budget.first_cases`). A test named on the command line with ``::`` runs."""
    if budget.FULL:
        return
    budget.first_cases(items)
    golden = bool(config.getoption("--update-golden"))
    named = {arg.split("[")[0] for arg in config.args if "::" in arg}
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        full = item.get_closest_marker("full") is not None
        if item.nodeid in config.args or item.nodeid.split("[")[0] in named:
            full = False
        if full and not (golden and "update_golden" in getattr(item, "fixturenames", ())):
            left.append(item)
        else:
            kept.append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


class TorchRandom:
    """torch's global generator, in the shape ``hypothesis.register_random`` takes: Hypothesis
    then seeds it before each example and restores it after, as it does Python's and numpy's,
    so that a test whose module initialises its weights from it (every exported model) gives
    the same answer when Hypothesis replays an example, and again with ``--hypothesis-seed``."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch

    def seed(self, n: int) -> None:
        self.torch.manual_seed(n)

    def getstate(self) -> Any:
        return self.torch.get_rng_state()

    def setstate(self, state: Any) -> None:
        self.torch.set_rng_state(state)


def pytest_collection_finish(session: pytest.Session) -> None:
    """torch's generator registered with Hypothesis once a collected module imported torch;
    the session keeps it (Hypothesis holds a weak reference)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        generator = session.stash.setdefault(TORCH_RANDOM, TorchRandom(torch))
        register_random(generator)


TORCH_RANDOM = pytest.StashKey["TorchRandom"]()


def pytest_report_header(config: pytest.Config) -> str:
    """The set this run takes; in the full run, its Hypothesis seed."""
    if not budget.FULL:
        left = "the tests marked full and a test's later parameter sets are deselected"
        return f"the quick set: {left} ({FULL_ONLY})"
    seed = config.getoption("hypothesis_seed", None)
    return f"the full set; hypothesis seed {seed} (again: pytest --hypothesis-seed={seed})"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/ from the current output"
    )
    parser.addoption(
        "--full",
        action="store_true",
        help="run CI's set: the tests marked full and Hypothesis' long profile (as CI=true does)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


Invoke = Callable[..., Result]


@pytest.fixture
def run() -> Invoke:
    """Run the CLI in-process: ``run("shape", "hw3-q3", input=...)``."""

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    """Write a spec file and return its path."""

    def writer(text: str, name: str = "net.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return writer


@pytest.fixture
def recursion_limit() -> Iterator[None]:
    """Restores the recursion limit a test raises (PyTorch and Keras walk and call modules
    recursively: deep networks need a higher limit)."""
    before = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(before)
