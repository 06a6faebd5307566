#!/usr/bin/env python3
"""Train a style network: python train.py --style mosaic.jpg [--data photos/] [--steps N] [--out x.pt]"""
import sys

from fastnst.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
