"""One playback position per person and file, on SQLite too.

The old constraint used ``nulls_distinct=False`` (NULLS NOT DISTINCT), which SQLite does not have:
Django skipped it there (``migrate`` warned models.W047) and SQLite databases had no uniqueness at
all. Two partial unique constraints say the same on every database. Rows that doubled up meanwhile
are folded first: the most recently updated one of each (person, title, file) is kept.
"""

from django.conf import settings
from django.db import migrations, models


def keep_newest(apps, schema_editor):
    Position = apps.get_model("media", "PlaybackPosition")
    seen = set()
    doubles = []
    for row in Position.objects.order_by("-updated_at", "-id").values(
        "id", "user", "title", "file"
    ):
        key = (row["user"], row["title"], row["file"])
        if key in seen:
            doubles.append(row["id"])
        else:
            seen.add(key)
    for start in range(0, len(doubles), 500):
        Position.objects.filter(id__in=doubles[start : start + 500]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("media", "0002_library_folders"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="playbackposition",
            name="playback_unique_per_file",
        ),
        migrations.RunPython(keep_newest, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="playbackposition",
            constraint=models.UniqueConstraint(
                condition=models.Q(("file__isnull", False)),
                fields=("user", "title", "file"),
                name="playback_unique_per_file",
            ),
        ),
        migrations.AddConstraint(
            model_name="playbackposition",
            constraint=models.UniqueConstraint(
                condition=models.Q(("file__isnull", True)),
                fields=("user", "title"),
                name="playback_unique_without_file",
            ),
        ),
    ]
