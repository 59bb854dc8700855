"""The skip policy: with CI=true an unlisted skip fails the run; a listed one, or a local skip, does not."""

import tomllib
from pathlib import Path

import pytest

from tests.skip_policy import Allowed, SkipPolicy, in_ci, parse

REPO = Path(__file__).resolve().parents[1]
SAMPLE = """
import pytest

def test_runs():
    assert 1 + 1 == 2

def test_skips():
    pytest.skip("no frobnicator on this machine")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, allowed: str = ""
) -> pytest.RunResult:
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_sample=SAMPLE)
    pytester.makeini(f"[pytest]\nallowed_skips =\n{allowed}\n")
    return pytester.runpytest_inprocess("-p", "tests.skip_policy")


def test_an_unlisted_skip_fails_the_run_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, "true")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "skips not allowed in CI" in out
    assert "test_sample.py::test_skips: no frobnicator on this machine" in out
    assert "test_expected_failure" not in out.split("skips not allowed in CI")[1]


def test_a_listed_skip_passes_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(
        pytester, monkeypatch, "true", "  test_sample.py::test_sk* -- the frobnicator is not packaged"
    )
    assert result.ret == pytest.ExitCode.OK
    assert "skips not allowed" not in result.stdout.str()


def test_outside_ci_a_skip_stays_a_skip(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(pytester, monkeypatch, "")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)


def test_an_entry_without_a_reason_is_refused() -> None:
    with pytest.raises(pytest.UsageError, match="expected '<node id pattern> -- <reason>'"):
        parse(["tests/x.py::test_y"])


def test_patterns_match_node_ids_with_brackets_literally() -> None:
    policy = SkipPolicy([Allowed("tests/a.py::test_*[pg*]", "PostgreSQL")])
    assert policy.permits("tests/a.py::test_x[pg16]")
    assert not policy.permits("tests/a.py::test_x[sqlite]")
    assert not policy.permits("tests/a.py::test_xp")
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"}) and not in_ci({}) and not in_ci({"CI": "false"})


def test_the_project_list_names_a_reason_for_every_entry() -> None:
    lines = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
        "allowed_skips"
    ]
    assert all(len(a.reason) > 20 for a in parse(lines))
