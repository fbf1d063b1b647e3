"""``python -m django_textlink.sandbox --help``"""

from __future__ import annotations

import sys

from django_textlink.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
