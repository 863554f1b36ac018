"""Every Django model field type, as columns of a few models (tables allfields_*); filled by fill_allfields.

Each of the three auto-field kinds keys a model of its own (Parent: AutoField, Everything: BigAutoField, Tag:
SmallAutoField), so each kind of sequence has to continue after a migration; Detail's key is a OneToOneField
(no sequence at all) and Token's a UUIDField. Values that SQLite cannot hold are not used: more than 15
significant digits in a DecimalField (SQLite keeps 15), NUL in text (PostgreSQL refuses it).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.db.models.functions import Lower


class Parent(models.Model):
    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=50, unique=True)
    # Rows can point at rows inserted after them, so a copy in pk order meets the reference before its target.
    mentor = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="mentees")


class Tag(models.Model):
    id = models.SmallAutoField(primary_key=True)
    label = models.SlugField(max_length=30, unique=True, allow_unicode=True)


class Everything(models.Model):
    id = models.BigAutoField(primary_key=True)
    big = models.BigIntegerField(null=True)
    binary = models.BinaryField(null=True)
    flag = models.BooleanField(default=False)
    maybe = models.BooleanField(null=True)
    char = models.CharField(max_length=100)
    char_null = models.CharField(max_length=10, null=True, blank=True)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    money = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    ratio = models.DecimalField(max_digits=5, decimal_places=4, null=True)
    wide = models.DecimalField(max_digits=30, decimal_places=10, null=True)
    whole = models.DecimalField(max_digits=15, decimal_places=0, null=True)
    duration = models.DurationField(null=True)
    email = models.EmailField(null=True)
    upload = models.FileField(upload_to="uploads/", blank=True)
    picture = models.ImageField(upload_to="pictures/", blank=True)
    path = models.FilePathField(path="/etc", blank=True)
    real = models.FloatField(null=True)
    ip = models.GenericIPAddressField(null=True)
    ipv4 = models.GenericIPAddressField(protocol="IPv4", null=True)
    integer = models.IntegerField(null=True)
    data = models.JSONField(null=True)
    positive_big = models.PositiveBigIntegerField(null=True)
    positive = models.PositiveIntegerField(null=True)
    positive_small = models.PositiveSmallIntegerField(null=True)
    slug = models.SlugField(null=True)
    small = models.SmallIntegerField(null=True)
    text = models.TextField(null=True)
    clock = models.TimeField(null=True)
    url = models.URLField(null=True)
    uuid = models.UUIDField(null=True, unique=True)
    # A default the database applies (Django 5's db_default), so it is part of the schema, not of Django.
    status = models.CharField(max_length=10, db_default="new")
    parent = models.ForeignKey(Parent, null=True, on_delete=models.SET_NULL, related_name="children")
    tags = models.ManyToManyField(Tag, blank=True, related_name="everything")


class Detail(models.Model):
    everything = models.OneToOneField(Everything, primary_key=True, on_delete=models.CASCADE)
    note = models.TextField()


class Token(models.Model):
    id = models.UUIDField(primary_key=True)
    owner = models.OneToOneField(Parent, null=True, on_delete=models.CASCADE, related_name="token")
    # A foreign key to a unique column that is not the primary key.
    everything = models.ForeignKey(Everything, to_field="uuid", null=True, on_delete=models.CASCADE)


class Computed(models.Model):
    """GeneratedField: columns the database computes (GENERATED ALWAYS AS ... STORED on both SQLite and
    PostgreSQL); a copy cannot write them, and SQLite's PRAGMA table_info does not list them."""

    width = models.IntegerField()
    height = models.IntegerField()
    name = models.CharField(max_length=40)
    area = models.GeneratedField(expression=F("width") * F("height"), output_field=models.IntegerField(),
                                 db_persist=True)
    lower_name = models.GeneratedField(expression=Lower("name"), output_field=models.CharField(max_length=40),
                                       db_persist=True)
