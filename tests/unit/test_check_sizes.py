"""The size rules' checker finds a long module and a long function, and passes the layer."""

from __future__ import annotations

from pathlib import Path

from tools import check_sizes


def test_the_layer_keeps_the_size_rules() -> None:
    assert check_sizes.check() == []


def test_a_module_over_the_limit_is_named(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("x = 1\n" * (check_sizes.MODULE_LINES + 1))
    (tmp_path / "small.py").write_text("x = 1\n" * check_sizes.MODULE_LINES)
    found = check_sizes.check(tmp_path)
    assert len(found) == 1
    assert "big.py" in found[0]
    assert f"{check_sizes.MODULE_LINES + 1} lines" in found[0]


def test_a_function_over_the_limit_is_named_with_its_decorators(tmp_path: Path) -> None:
    body = "    x = 1\n" * (check_sizes.FUNCTION_LINES - 1)
    # long: a decorator, its def and the body (one line over); short: its def and the body (at the limit)
    (tmp_path / "f.py").write_text(f"@decorator\ndef long():\n{body}\ndef short():\n{body}")
    found = check_sizes.check(tmp_path)
    assert found == [
        f"{tmp_path / 'f.py'}:2: long is {check_sizes.FUNCTION_LINES + 1} lines "
        f"(a function holds at most {check_sizes.FUNCTION_LINES})"
    ]
