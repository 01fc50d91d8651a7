from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="Metrics",
            fields=[("id", models.AutoField(auto_created=True, primary_key=True,
                                            serialize=False, verbose_name="ID"))],
            options={
                "db_table": "taos_metrics_none",
                "managed": False,
                "default_permissions": (),
                "permissions": [("view_metrics", "Can scrape /metrics")],
            },
        ),
    ]
