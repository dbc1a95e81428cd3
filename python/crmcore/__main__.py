"""``python -m crmcore``: the command line (see :mod:`crmcore.cli`)."""
import sys

from .cli import main

sys.exit(main())
