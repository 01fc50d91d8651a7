from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here so that the bench's tests stay in their own folder;
    # deselect them with `-m "not bench"`.
    config.addinivalue_line("markers", "bench: tests of the benchmark (bench/)")
