"""The allfields app's schema as `makemigrations` (Django 5.2.19) wrote it, ruff-formatted; applied by `migrate`."""

import django.db.models.deletion
import django.db.models.expressions
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Computed",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("width", models.IntegerField()),
                ("height", models.IntegerField()),
                ("name", models.CharField(max_length=40)),
                (
                    "area",
                    models.GeneratedField(
                        db_persist=True,
                        expression=django.db.models.expressions.CombinedExpression(
                            models.F("width"), "*", models.F("height")
                        ),
                        output_field=models.IntegerField(),
                    ),
                ),
                (
                    "lower_name",
                    models.GeneratedField(
                        db_persist=True,
                        expression=django.db.models.functions.text.Lower("name"),
                        output_field=models.CharField(max_length=40),
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Everything",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("big", models.BigIntegerField(null=True)),
                ("binary", models.BinaryField(null=True)),
                ("flag", models.BooleanField(default=False)),
                ("maybe", models.BooleanField(null=True)),
                ("char", models.CharField(max_length=100)),
                ("char_null", models.CharField(blank=True, max_length=10, null=True)),
                ("day", models.DateField(null=True)),
                ("moment", models.DateTimeField(null=True)),
                ("money", models.DecimalField(decimal_places=2, max_digits=12, null=True)),
                ("ratio", models.DecimalField(decimal_places=4, max_digits=5, null=True)),
                ("wide", models.DecimalField(decimal_places=10, max_digits=30, null=True)),
                ("whole", models.DecimalField(decimal_places=0, max_digits=15, null=True)),
                ("duration", models.DurationField(null=True)),
                ("email", models.EmailField(max_length=254, null=True)),
                ("upload", models.FileField(blank=True, upload_to="uploads/")),
                ("picture", models.ImageField(blank=True, upload_to="pictures/")),
                ("path", models.FilePathField(blank=True, path="/etc")),
                ("real", models.FloatField(null=True)),
                ("ip", models.GenericIPAddressField(null=True)),
                ("ipv4", models.GenericIPAddressField(null=True, protocol="IPv4")),
                ("integer", models.IntegerField(null=True)),
                ("data", models.JSONField(null=True)),
                ("positive_big", models.PositiveBigIntegerField(null=True)),
                ("positive", models.PositiveIntegerField(null=True)),
                ("positive_small", models.PositiveSmallIntegerField(null=True)),
                ("slug", models.SlugField(null=True)),
                ("small", models.SmallIntegerField(null=True)),
                ("text", models.TextField(null=True)),
                ("clock", models.TimeField(null=True)),
                ("url", models.URLField(null=True)),
                ("uuid", models.UUIDField(null=True, unique=True)),
                ("status", models.CharField(db_default="new", max_length=10)),
            ],
        ),
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.SmallAutoField(primary_key=True, serialize=False)),
                ("label", models.SlugField(allow_unicode=True, max_length=30, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="Detail",
            fields=[
                (
                    "everything",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        serialize=False,
                        to="allfields.everything",
                    ),
                ),
                ("note", models.TextField()),
            ],
        ),
        migrations.CreateModel(
            name="Parent",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50, unique=True)),
                (
                    "mentor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="mentees",
                        to="allfields.parent",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="everything",
            name="parent",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="children", to="allfields.parent"
            ),
        ),
        migrations.AddField(
            model_name="everything",
            name="tags",
            field=models.ManyToManyField(blank=True, related_name="everything", to="allfields.tag"),
        ),
        migrations.CreateModel(
            name="Token",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
                (
                    "everything",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="allfields.everything",
                        to_field="uuid",
                    ),
                ),
                (
                    "owner",
                    models.OneToOneField(
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="token",
                        to="allfields.parent",
                    ),
                ),
            ],
        ),
    ]
