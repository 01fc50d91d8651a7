"""Secrets never reach a log: not in messages, not in logged SQL."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.support.http_auth import bearer
from tokens import services

pytestmark = pytest.mark.django_db


def test_issue_rotate_and_authentication_never_log_the_secret(
        agent, token_api, caplog, settings, make_operator_token, operator):
    settings.DEBUG = True  # django.db.backends logs every statement with its params
    logging.getLogger("django.db.backends").setLevel(logging.DEBUG)
    seen: list[str] = []
    try:
        with caplog.at_level(logging.DEBUG), CaptureQueriesContext(connection) as ctx:
            issued = services.token_issue(agent=agent)
            seen.append(issued.secret)
            rotated = token_api.post(f"/api/agents/{agent.name}/token/rotate/",
                                     content_type="application/json").json()["token"]
            seen.append(rotated)
            assert APIClient().get("/api/agent/me/", **bearer(rotated)).status_code == 200
            assert APIClient().get("/api/agent/me/", **bearer(issued.secret)).status_code == 401
            broken = rotated[:-1] + ("0" if rotated[-1] != "0" else "1")
            assert APIClient().get("/api/agent/me/", **bearer(broken)).status_code == 401
            operator_secret = make_operator_token(operator).secret
            seen.append(operator_secret)
            APIClient().get("/api/agents/", **bearer(operator_secret))
    finally:
        logging.getLogger("django.db.backends").setLevel(logging.INFO)
    logged = caplog.text + "\n".join(q["sql"] for q in ctx.captured_queries)
    assert "SELECT" in caplog.text  # the statements were logged
    assert "issued" in caplog.text  # and the services did log
    for secret in seen:
        secret_part = secret[-(32 + 6):]  # everything after the lookup prefix
        assert secret not in logged
        assert secret_part not in logged
    assert broken[-38:] not in logged
