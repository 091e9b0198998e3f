"""``python -m s3compliance``: the same as the ``s3compliance`` command."""

import sys

from s3compliance.cli import main

if __name__ == "__main__":  # not when a spawned child process re-imports the main module
    sys.exit(main())
