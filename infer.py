#!/usr/bin/env python3
"""Stylize images: python infer.py photo.jpg [more.jpg folder/ ...] --ckpt checkpoints/mosaic.pt [-o out]"""
import sys

from fastnst.cli import infer_main

if __name__ == "__main__":
    sys.exit(infer_main())
