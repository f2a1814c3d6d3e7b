"""The library's search index and the triggers that keep it in step (media/search_index.py)."""

from django.db import migrations

from media import search_index


def create(apps, schema_editor):
    search_index.create(schema_editor)


def drop(apps, schema_editor):
    search_index.drop(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("media", "0004_library_page_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
