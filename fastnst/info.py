"""python -m fastnst.info CKPT: what a checkpoint holds (its styles, network and training)."""

import sys

if __name__ == "__main__":
    from .cli.info import main

    sys.exit(main())
