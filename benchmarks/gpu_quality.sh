#!/usr/bin/env bash
# Issue 26 item 4, its GPU half: the lowest digits FID on MNIST5k within a GPU budget, prepared as ONE call of the
# device tool (`run`), so that a session lent a GPU spends its minutes on the run and not on typing:
#
#   here:       the wheels of ../shared/GPU.md in .whl/ (torch-fidelity, mlxtend, jsonargparse, docstring-parser,
#               typeshed-client), then run(command="bash benchmarks/gpu_quality.sh", carry=[".whl"], timeout_s=600)
#   there:      installs the wheels and the checkout (GPU.md's lines), then trains benchmarks/quality.py's runs on
#               the GPU: SNGAN (unconditional) and CGAN (class-conditional), each with Adam beta1 0.0 and lr 4e-4
#               (the changes that took SNGAN to 10.3 in 6 CPU-minutes), two processes side by side (--workers 2:
#               small nets leave the GPU idle between kernels), evaluated every 2 minutes;
#   back here:  $OUT holds quality.log, results.json (the quality cache with the new rows), the two runs' sample
#               grids and the FID plot; copy results.json and the PNGs into benchmarks/quality/ and rebuild the
#               section with `python benchmarks/quality.py --report-only`.
#
# MINUTES (default 7) is below the 10 GPU-minutes: one call of the device tool runs at most 600 s, and the
# setup, data loading and evaluations take about 90 s of them; the section names the minutes run.
set -uo pipefail
: "${OUT:?OUT: the folder whose files come back (the device tool sets it)}"
MINUTES=${MINUTES:-7}
PY=${PYTHON:-python3}
started=$(date +%s)
marker=$(mktemp)  # the PNGs written after it come back
log() { echo "[gpu_quality $(( $(date +%s) - started )) s] $*" | tee -a "$OUT/quality.log"; }

if ! ls .whl/*.whl >/dev/null 2>&1; then
  log ".whl/: no wheels; build them here as ../shared/GPU.md says and name .whl in carry"; exit 2
fi
{
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site \
    && "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e .
} >>"$OUT/quality.log" 2>&1 || { log "setup failed (its output above)"; exit 3; }
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
"$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA GPU"; print(torch.cuda.get_device_name(0))' \
  >>"$OUT/quality.log" 2>&1 || { log "torch sees no CUDA GPU"; exit 4; }
log "setup done"

timeout $(( MINUTES * 60 + 120 )) "$PY" benchmarks/quality.py --models SNGAN,CGAN --minutes "$MINUTES" --eval-every 2 \
  --accelerator gpu --workers 2 --set 'betas=[0.0,0.999]' --set lr_g=4e-4 --set lr_d=4e-4 >>"$OUT/quality.log" 2>&1
status=$?
log "quality.py ended with status $status"
cp benchmarks/quality/results.json "$OUT/results.json" 2>/dev/null
for png in benchmarks/quality/*.png; do
  [ "$png" -nt "$marker" ] && cp "$png" "$OUT/"
done
exit "$status"
