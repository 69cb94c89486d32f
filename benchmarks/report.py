"""Markdown tables from the JSON-lines files the benchmarks append to.

    python benchmarks/report.py sr2d bench_out/set5_fast.jsonl
    python benchmarks/report.py iso3d bench_out/iso_fast_grid.jsonl
"""

import json
import sys

import numpy as np


def sr2d(rows):
    out = ["| image | bicubic PSNR / SSIM | ZSSR PSNR / SSIM | gain dB | seconds | device |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['set']} {r['image']} x{r['scale']} | {r['bicubic_psnr']:.2f} / {r['bicubic_ssim']:.4f} | "
                   f"{r['zssr_psnr']:.2f} / {r['zssr_ssim']:.4f} | {r['zssr_psnr'] - r['bicubic_psnr']:+.2f} | "
                   f"{r['seconds']:.1f} | {r['device']} |")
    m = {k: np.mean([r[k] for r in rows])
         for k in ("bicubic_psnr", "bicubic_ssim", "zssr_psnr", "zssr_ssim", "seconds")}
    out.append(f"| **mean** | **{m['bicubic_psnr']:.2f} / {m['bicubic_ssim']:.4f}** | **{m['zssr_psnr']:.2f} / "
               f"{m['zssr_ssim']:.4f}** | **{m['zssr_psnr'] - m['bicubic_psnr']:+.2f}** | {m['seconds']:.1f} | |")
    return "\n".join(out)


def iso3d(rows):
    out = ["| k | sigma_z | method | PSNR dB | SSIM | seconds | device |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        secs = f"{r['seconds']:.1f}" if "seconds" in r else ""
        out.append(f"| {r['k']} | {r['sigma']:g} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {secs} | "
                   f"{r.get('device', '')} |")
    return "\n".join(out)


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(path) if line.strip()]
    print({"sr2d": sr2d, "iso3d": iso3d}[kind](rows))
