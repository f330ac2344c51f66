"""``python -m constructs_rust``: the ``constructs-rust`` command."""

import sys

from .local import main

if __name__ == "__main__":
    sys.exit(main())
