"""The deploy API's bodies: a deploy request, a deploy task, the answer to a deploy."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from agents.serializers import AgentSerializer
from deploys.models import DeployTask


class DeployRequestSerializer(AgentSerializer):
    """`POST /api/agents/deploy/`: an agent's fields, with `framework` and `model` required."""

    framework = serializers.CharField(max_length=64)
    model = serializers.CharField(max_length=128)


class DeployTaskSerializer(serializers.ModelSerializer):
    """A deploy task's state; the log tail and error say what happened."""

    agent = serializers.SlugRelatedField(slug_field="name", read_only=True)
    stale = serializers.SerializerMethodField(
        help_text="True when the deploy's job is gone (no heartbeat, or never enqueued, for "
                  "DEPLOY_STALE_SECONDS): it is as good as failed, `error` says why, and a "
                  "retry (or the next sweep) marks it failed.")
    error = serializers.SerializerMethodField(help_text="Why the deploy failed, was skipped "
                                              "or is stale; empty otherwise.")
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = DeployTask
        fields = [
            "id", "agent", "state", "backend", "attempts", "created_at", "queued_at",
            "started_at", "heartbeat_at", "finished_at", "stale", "error", "log_tail",
            "status_url",
        ]
        read_only_fields = fields

    def get_stale(self, task: DeployTask) -> bool:
        return bool(task.stale_reason)

    def get_error(self, task: DeployTask) -> str:
        return task.error or task.stale_reason

    def get_status_url(self, task: DeployTask) -> str:
        return deploy_status_url(task.agent.name)


class DeployResponseSerializer(serializers.Serializer):
    """The answer to a deploy request: the new agent and its deploy task."""

    agent = AgentSerializer()
    deploy = DeployTaskSerializer()


def deploy_status_url(slug: str) -> str:
    return reverse("deploy-status", kwargs={"slug": slug})
