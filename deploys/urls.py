from django.urls import path

from deploys.views import (
    AgentDeployRetryView,
    AgentDeployView,
    DeployCreateView,
    DeployStatusView,
)

# Listed before the agents' routes: `agents/deploy/` is not an agent's slug.
urlpatterns = [
    path("agents/deploy/", DeployCreateView.as_view(), name="deploy-create"),
    path("agents/<slug:slug>/deploy-status/", DeployStatusView.as_view(), name="deploy-status"),
    path("agents/<slug:slug>/deploy/", AgentDeployView.as_view(), name="agent-deploy"),
    path("agents/<slug:slug>/deploy/retry/", AgentDeployRetryView.as_view(),
         name="agent-deploy-retry"),
]
