"""Counts of titles per kind and status, kept by triggers (media/title_counts.py)."""

from django.db import migrations

from media import title_counts


def create(apps, schema_editor):
    title_counts.create(schema_editor)


def drop(apps, schema_editor):
    title_counts.drop(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("media", "0006_title_removing_files_and_requests")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
