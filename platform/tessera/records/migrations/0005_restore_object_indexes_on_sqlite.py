"""Put back the indexes published objects ask for, on SQLite.

0003 changed a field of ``records_record`` the usual way, which SQLite does by copying the
table into a new one built from the model alone: the indexes that publishing an object makes
(``x-index`` and ``x-unique``) were not copied. Publishing again would make them; this makes
them now, for every published object. PostgreSQL altered the table in place and lost nothing.
"""

from django.db import migrations


def restore(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    from tessera.records.indexes import sync_indexes

    Definition = apps.get_model("definitions", "Definition")
    for key, body in Definition.objects.filter(kind="object", status="published").values_list(
        "key", "body"
    ):
        sync_indexes(key, body)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0004_history_and_actor_indexes"),
        ("definitions", "0002_revision_token"),
    ]

    operations = [migrations.RunPython(restore, migrations.RunPython.noop)]
