from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("tokens", "0002_active_token_generated_column"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="operatortoken",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("add_operatortoken_for_others", "Can add operator tokens for other users"),
                ],
                "verbose_name": "operator token",
            },
        ),
    ]
