"""pytest plugin: when CI=true, a skipped test fails the run unless `allowed_skips` lists it.

The list lives in pyproject.toml ([tool.pytest.ini_options] allowed_skips), one entry a line:
`<node id pattern> -- <why it may skip in CI>`, where `*` matches anything. A skip anywhere else means CI did
not test what it claims to (a missing system package, a broken fixture), so it is an error
there; locally a skip stays a skip. Registered from tests/conftest.py.
"""

import os
import re
from dataclasses import dataclass, field

import pytest

INI = "allowed_skips"
SEPARATOR = " -- "


@dataclass(frozen=True)
class Allowed:
    pattern: str
    reason: str


def parse(lines: list[str]) -> list[Allowed]:
    """`pattern -- reason` lines; an entry without a reason is a configuration error."""
    allowed = []
    for line in lines:
        pattern, sep, reason = line.partition(SEPARATOR)
        if not sep or not pattern.strip() or not reason.strip():
            raise pytest.UsageError(f"{INI}: {line!r}: expected '<node id pattern>{SEPARATOR}<reason>'")
        allowed.append(Allowed(pattern.strip(), reason.strip()))
    return allowed


def _matches(pattern: str, nodeid: str) -> bool:
    # Only `*` is special: node ids hold [brackets] that fnmatch would read as character sets.
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), nodeid) is not None


def in_ci(env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    return env.get("CI", "").strip().lower() in {"true", "1", "yes"}


@dataclass(eq=False)  # a plugin object must be hashable
class SkipPolicy:
    allowed: list[Allowed]
    unexpected: list[tuple[str, str]] = field(default_factory=list)

    def permits(self, nodeid: str) -> bool:
        return any(_matches(a.pattern, nodeid) for a in self.allowed)

    def _check(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail") and not self.permits(report.nodeid):
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.unexpected.append((report.nodeid, reason.removeprefix("Skipped: ")))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._check(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._check(report)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unexpected:
            return
        terminalreporter.section("skips not allowed in CI", red=True)
        for nodeid, reason in self.unexpected:
            terminalreporter.line(f"{nodeid}: {reason}")
        terminalreporter.line(
            f"CI=true: add a line to {INI} in pyproject.toml with the reason, or fix the cause"
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.unexpected and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, "node ids that may skip when CI=true: '<pattern> -- <reason>' lines", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    allowed = parse(config.getini(INI))
    if in_ci():
        config.pluginmanager.register(SkipPolicy(allowed), "skip-policy")
