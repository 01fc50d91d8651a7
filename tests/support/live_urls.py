"""URLs of live test servers: the production URLconf with the agents routed to a delayable view.

Every path answers as in production (same views, same names); only
`DelayedAgentViewSet` honours `X-Test-Delay` on `POST /api/agents/`.
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tests.support.live_views import DelayedAgentViewSet
from tinyagentos_site import urls as site_urls

# Registered like agents/urls.py registers AgentViewSet, and matched before it;
# the deploy routes still come first, as in production (`agents/deploy/` is
# not an agent's slug).
router = SimpleRouter()
router.register("agents", DelayedAgentViewSet, basename="agent")

urlpatterns = [path("api/", include("deploys.urls")), path("api/", include(router.urls)),
               *site_urls.urlpatterns]

handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500
