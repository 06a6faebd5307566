"""python -m fastnst COMMAND [options]: the same as the `fastnst` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
