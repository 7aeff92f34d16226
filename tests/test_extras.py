"""The ``extra`` marker of conftest.py: a test that needs an optional extra skips, naming the
extra and the missing module, where that extra is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def test_the_marker_knows_exactly_the_optional_extras_of_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    from tests.conftest import EXTRAS

    pyproject = tomllib.loads((CONFTEST.parents[1] / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"]) - {"test"}
    assert set(EXTRAS) == extras


def test_a_missing_extra_skips_with_the_reason_and_a_bad_name_stops_the_run(pytester):
    # the real conftest, in a process where the rbf package can not be imported
    pytester.makeconftest(CONFTEST.read_text() + '\nimport sys\nsys.modules["rbf"] = None\n')
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.extra("pdo")
        def test_needs_rbf():
            import rbf

        @pytest.mark.parametrize("m", ["fd", pytest.param("rbf", marks=pytest.mark.extra("pdo"))])
        def test_one_case_needs_rbf(m):
            assert m == "fd"

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=2)
    reason = "needs the 'pdo' extra (pip install 'e2compile[pdo]'): no module rbf"
    # reported where each test is defined (line 3: the test, line 7: the parametrized one)
    skipped = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert [line.split(".py:")[1] for line in skipped] == [f"3: {reason}", f"7: {reason}"]

    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.extra("no-such-extra")
        def test_misspelt():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "extra('no-such-extra') is not one of" in result.stderr.str()
