import pytest

from modelops.cli import build_parser, main


def _subcommands() -> list[list[str]]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(action.choices, dict)  # a subparsers action maps names to parsers
    found: list[list[str]] = []
    for name, sub in action.choices.items():
        nested = [a for a in sub._actions if getattr(a, "choices", None) and a.dest.endswith("_command")]
        if nested:
            found += [[name, child] for child in nested[0].choices]
        else:
            found.append([name])
    return found


def test_top_level_help_lists_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for step in ("data", "train", "evaluate"):
        assert step in out


@pytest.mark.parametrize("argv", _subcommands(), ids=" ".join)
def test_every_subcommand_describes_itself(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: modelops")
    description = out.split("\n\n")[1].strip()
    assert len(description) > 20, f"{' '.join(argv)} --help has no description"
