"""System checks on the deploy settings."""

from __future__ import annotations

from deploys.checks import check_deploy_settings


def ids(settings_) -> list[str]:
    return [message.id for message in check_deploy_settings()]


def test_embedded_default_passes(settings):
    settings.DEPLOY_BACKEND = ""
    assert ids(settings) == []


def test_unknown_backend_is_an_error(settings):
    settings.DEPLOY_BACKEND = "kubernetes"
    assert ids(settings) == ["deploys.E001"]


def test_command_backend_without_a_command_is_an_error(settings):
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", ""
    assert ids(settings) == ["deploys.E001"]


def test_stale_timeout_shorter_than_three_heartbeats_is_an_error(settings):
    settings.DEPLOY_HEARTBEAT_SECONDS, settings.DEPLOY_STALE_SECONDS = 5, 10
    assert ids(settings) == ["deploys.E003"]
