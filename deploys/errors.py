"""Deploy errors with stable codes, rendered as problem details."""

from __future__ import annotations

from rest_framework import status

from tinyagentos_site.errors import ApiError, Conflict


class DeployNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "deploy_not_found"
    default_detail = "This agent has never been deployed."


class DeployNotRetryable(Conflict):
    default_code = "deploy_not_retryable"
    default_detail = "Only a failed or skipped deploy can be retried."


class DeployInProgress(Conflict):
    default_code = "deploy_in_progress"
    default_detail = "A deploy of this agent is already queued or running."


class AgentArchived(Conflict):
    default_code = "agent_archived"
    default_detail = "The agent is archived; it cannot be deployed."
