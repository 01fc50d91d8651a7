"""No table: only the holder of the `metrics.view_metrics` permission (docs/operations.md)."""

from django.db import models


class Metrics(models.Model):
    class Meta:
        managed = False
        db_table = "taos_metrics_none"  # never created, never queried
        default_permissions = ()
        permissions = [("view_metrics", "Can scrape /metrics")]
