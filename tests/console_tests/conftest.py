from __future__ import annotations

import pytest


@pytest.fixture
def no_backend(settings) -> None:
    settings.DEPLOY_BACKEND = ""
    settings.DEPLOY_COMMAND = ""
