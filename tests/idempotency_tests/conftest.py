from __future__ import annotations

from collections.abc import Iterator

import pytest

from idempotency import fast_path


@pytest.fixture(autouse=True)
def _fast_path_not_skipped() -> Iterator[None]:
    # A test that breaks Redis must not make the next one skip it.
    fast_path.reset()
    yield
    fast_path.reset()
