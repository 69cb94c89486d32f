"""The cost of reading the whole input once before a run (digests for the store, decoding checked):
``stack.inputs.scan_input`` on uint16 stacks in memory and in a zarr store with one chunk per plane.

    python benchmarks/input_scan.py
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import zarr

from napari_zssr.stack.blocks import Blocks
from napari_zssr.stack.inputs import scan_input


def seconds(src: Blocks) -> float:
    t = time.perf_counter()
    scan_input(src)
    return time.perf_counter() - t


def main() -> None:
    print("| input | in memory (numpy) | zarr, one chunk per plane |\n|---|---|---|")
    for shape in [(60, 256, 256), (2, 48, 1024, 1024)]:
        a = (np.random.default_rng(0).random(shape) * 4000).astype(np.uint16)
        axes = "ZYX" if len(shape) == 3 else "CZYX"
        with tempfile.TemporaryDirectory() as tmp:
            z = zarr.open_array(os.path.join(tmp, "a.zarr"), mode="w", shape=shape, dtype=a.dtype,
                                chunks=(1,) * (len(shape) - 2) + shape[-2:])
            z[:] = a
            print(f"| {' x '.join(map(str, shape))} uint16 ({a.nbytes / 2**20:.0f} MiB) | "
                  f"{seconds(Blocks(a, axes)):.2f} s | {seconds(Blocks(z, axes)):.2f} s |")


if __name__ == "__main__":
    main()
