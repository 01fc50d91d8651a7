"""Deploy errors with stable codes, rendered as problem details."""

from __future__ import annotations

from rest_framework import status

from api.error_codes import ErrorCode
from api.errors import ApiError, Conflict


class DeployNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = ErrorCode.DEPLOY_NOT_FOUND
    default_detail = "This agent has never been deployed."


class DeployNotRetryable(Conflict):
    default_code = ErrorCode.DEPLOY_NOT_RETRYABLE
    default_detail = "Only a failed or skipped deploy can be retried."


class DeployInProgress(Conflict):
    default_code = ErrorCode.DEPLOY_IN_PROGRESS
    default_detail = "A deploy of this agent is already queued or running."


class AgentArchived(Conflict):
    default_code = ErrorCode.AGENT_ARCHIVED
    default_detail = "The agent is archived; it cannot be deployed."


class AgentNotDeployable(Conflict):
    default_code = ErrorCode.AGENT_NOT_DEPLOYABLE
    default_detail = "Only a registered or failed agent can be deployed."
