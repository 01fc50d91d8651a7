"""The TinyAgentOS control plane's client: `Client`, its errors, its retry policy."""

__version__ = "0.1.0"

from taos_client.client import Client, new_idempotency_key  # noqa: E402
from taos_client.errors import ApiError, TaosError, TokenAnswerLost, TransportError  # noqa: E402
from taos_client.models import (  # noqa: E402
    Agent,
    AgentPage,
    CallInfo,
    Deployed,
    DeployTask,
    IssuedToken,
    TokenInfo,
)
from taos_client.retry import RetryPolicy  # noqa: E402

__all__ = [
    "Agent", "AgentPage", "ApiError", "CallInfo", "Client", "DeployTask", "Deployed",
    "IssuedToken", "RetryPolicy", "TaosError", "TokenAnswerLost", "TokenInfo", "TransportError",
    "new_idempotency_key",
]
