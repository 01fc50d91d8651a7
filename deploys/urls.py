from django.urls import path

from deploys.views import DeployCreateView, DeployStatusView

# Listed before the agents' routes: `agents/deploy/` is not an agent's slug.
urlpatterns = [
    path("agents/deploy/", DeployCreateView.as_view(), name="deploy-create"),
    path("agents/<slug:slug>/deploy-status/", DeployStatusView.as_view(), name="deploy-status"),
]
