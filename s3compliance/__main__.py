"""``python -m s3compliance``: the same as the ``s3compliance`` command."""

import sys

from s3compliance.cli import main

sys.exit(main())
