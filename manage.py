#!/usr/bin/env python
"""Django's command-line utility, with the engine's source root on the path."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# `platform/` is a source root, not a package: a package of that name would shadow the stdlib.
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
