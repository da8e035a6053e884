from __future__ import annotations

import pytest

from upload_pipeline_tests.unavailable import skip_unless_ci


def test_a_missing_part_skips_on_a_developers_machine(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        skip_unless_ci("no chromium")


def test_a_missing_part_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no chromium"):
        skip_unless_ci("no chromium")
