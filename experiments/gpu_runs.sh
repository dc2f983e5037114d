#!/usr/bin/env bash
# The result runs that need an accelerator, as one script so that a short lease runs it whole
# (docs/results.md quotes what they gave):
#   - the working-memory length ablation in window mode on the quick start (N = 5, 20, 60,
#     5 seeds each, one process per N so that the three share the GPU);
#   - HalfCheetahVel at the reference's budget, 20M env steps per seed, our preset, 3 seeds;
#   - once the ablation is done, the reference's own HalfCheetahVel run (paper_halfcheetah_vel,
#     3 seeds) for the time that is left.
# Every run stops cleanly at the deadline (SIGTERM: it checkpoints its last update and exits 75),
# so `python -m experiments.compare` with the same flags continues it anywhere, the CPU included.
# The run folders, without all but the newest checkpoint, are packed into OUT/runs.tgz.00, .01, ...
# (parts of 15 MiB; `cat OUT/runs.tgz.* | tar xz` unpacks them).
#
#     bash experiments/gpu_runs.sh OUT [PYTHON] [SECONDS]
# SECONDS (default 510) is the wall-clock budget of the training. Flags in EXTRA_FLAGS are added
# to every run, e.g. a small --total_env_steps for a rehearsal of the script on a CPU.
set -u
OUT=${1:?usage: gpu_runs.sh OUT [PYTHON] [SECONDS]}
PY=${2:-python3}
SECONDS_TOTAL=${3:-510}
RUNS=${RUNS_DIR:-/tmp/trmrl_runs}
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false  # Several processes share the GPU.
deadline=$((SECONDS + SECONDS_TOTAL))

launch() {  # launch NAME FLAGS...: one compare process in the background until the deadline
  local name=$1; shift
  echo "=== $name starts $(date +%T)"
  timeout -k 60 $((deadline - SECONDS)) "$PY" -m experiments.compare "$@" ${EXTRA_FLAGS:-} \
    > "$RUNS/$name.log" 2>&1 &
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import jax, flax, brax; print('jax', jax.__version__, 'flax', flax.__version__, \
'brax', brax.__version__, jax.devices())" || exit 1

ablation=()
for n in 5 20 60; do
  launch "ablation_N$n" --preset=quickstart --agents=trmrl --attention=window --windows=$n \
    --seeds=5 --workdir="$RUNS/ablation_window"
  ablation+=($!)
done
launch hc_vel_20M --preset=halfcheetah_vel --backend=spring --agents=trmrl --seeds=3 \
  --eval_tasks=50 --total_env_steps=20000000 --workdir="$RUNS/hc_vel_20M"
long=$!
wait "${ablation[@]}"
echo "=== ablation done $(date +%T), $((deadline - SECONDS)) s left"
if ((deadline - SECONDS > 120)); then
  launch paper_hc_vel --preset=paper_halfcheetah_vel --backend=spring --agents=trmrl --seeds=3 --curve_points=100 \
    --workdir="$RUNS/paper_hc_vel"
  wait $!
fi
wait "$long"
echo "=== training done $(date +%T)"
for log in "$RUNS"/*.log; do echo "--- $log"; tail -n 8 "$log"; done
# Keep the newest checkpoint of each run: enough to continue it.
for ckpts in "$RUNS"/*/*/checkpoints; do
  ls -d "$ckpts"/*/ 2>/dev/null | sort -V | head -n -1 | xargs -r rm -rf
done
tar czf - -C "$(dirname "$RUNS")" "$(basename "$RUNS")" | split -b 15M -d - "$OUT/runs.tgz."
ls -la "$OUT"
