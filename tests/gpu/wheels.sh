#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the pure-Python wheels that tests/gpu/check.sh installs on the GPU
# machine, whose image has torch, numpy, onnx, onnxruntime, opencv, matplotlib, pandas, pytest and nvidia-ml-py but
# not these. Versions are the suite's pins (pyproject.toml). Into .whl/ at the repository root, which git ignores.
#
#   tests/gpu/wheels.sh            # then: device run with carry [".whl"], command: bash tests/gpu/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
pin() {  # the version pyproject.toml pins for a distribution (one list of versions)
  sed -n "s/^ *\"$1==\([^\"; ]*\)\".*/\1/p" pyproject.toml | head -1
}
# what `import yolov12`, the latency harness and the CUDA tests need beyond the device image:
#   ultralytics (its dependencies polars and ultralytics-platform are imported lazily, never by these paths),
#   ultralytics-thop (Ultralytics' model info), onnxslim (ONNX export simplification; needs onnx, sympy,
#   ml-dtypes, colorama, packaging: all in the image)
WHEELS=("ultralytics==$(pin ultralytics)" "ultralytics-thop==$(pin ultralytics-thop)" "onnxslim==$(pin onnxslim)")
grep -qx '/.whl/' "$(git rev-parse --git-path info/exclude)" 2>/dev/null || \
  echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
# and one compiled wheel, for the CUDA test of tests/test_evaluate.py (COCO scoring): pycocotools, CPython 3.12
BINARY=("pycocotools==$(pin pycocotools)")
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation py --abi none \
  --platform any -d .whl "${WHEELS[@]}"
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
  -d .whl "${BINARY[@]}"
ls -l .whl
