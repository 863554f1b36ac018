#!/usr/bin/env python
"""Django's command line for the sandbox: `python manage.py migrate --noinput` is the example's AppCommand."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
