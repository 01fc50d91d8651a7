from django.urls import path

from tokens.views import AgentMeView, AgentTokenRotateView, AgentTokenView

urlpatterns = [
    path("agents/<slug:slug>/token/", AgentTokenView.as_view(), name="agent-token"),
    path("agents/<slug:slug>/token/rotate/", AgentTokenRotateView.as_view(),
         name="agent-token-rotate"),
    path("agent/me/", AgentMeView.as_view(), name="agent-me"),
]
