#!/usr/bin/env bash
# The accelerator runs of three open questions, one stage per call so that a short lease runs a
# stage whole (docs/results.md and BUILD.md quote what they gave):
#   precision  the quick start over seeds 10-14 in both attention modes, each at the GPU's
#              default float32 matmul precision (TF32 on NVIDIA since Ampere) and at `highest`:
#              four compare processes sharing the GPU. At N = 60 = E x H a training trial never
#              outgrows the window, so the two modes train the same function: a difference left
#              at `highest` is the hardware's, at `default` the precision's.
#   bench      the throughput benchmark at 1024, 4096 and 16384 envs, float32 and bfloat16,
#              TrMRL sliding against the simulator alone and Brax's PPO; MJX physics beside
#              spring at 1024 and 4096.
#   mujoco     HalfCheetahVel on MuJoCo physics (MJX), TrMRL and RL^2, 3 seeds, at the
#              reference's 20M env steps per seed.
#   paper      the reference's preset (paper_halfcheetah_vel: window N = 5, 4 layers, 320
#              optimiser steps of 256 samples per update) with 1, 4 and 16 seeds vmapped into one
#              program, on MuJoCo physics and on spring: its env steps per second over all seeds.
# Training stages stop cleanly at the deadline (SIGTERM: a checkpoint, exit 75), so the same
# command continues them on any machine; their folders, without all but the newest checkpoint,
# are packed into OUT/runs.tgz.00, .01, ... (`cat OUT/runs.tgz.* | tar xz` unpacks them).
#
#     bash experiments/gpu_study.sh STAGE OUT [PYTHON] [SECONDS]
# SECONDS (default 480) is the stage's wall-clock budget. EXTRA_FLAGS are added to every
# command, e.g. a small --total_env_steps to rehearse a stage on a CPU.
set -u
STAGE=${1:?usage: gpu_study.sh precision|bench|mujoco|paper OUT [PYTHON] [SECONDS]}
OUT=${2:?usage: gpu_study.sh STAGE OUT [PYTHON] [SECONDS]}
PY=${3:-python3}
SECONDS_TOTAL=${4:-480}
RUNS=${RUNS_DIR:-/tmp/trmrl_runs}
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false  # Several processes share the GPU.
deadline=$((SECONDS + SECONDS_TOTAL))

launch() {  # launch NAME MODULE FLAGS...: one process in the background until the deadline
  local name=$1 module=$2; shift 2
  echo "=== $name starts $(date +%T)"
  # shellcheck disable=SC2086  # EXTRA_FLAGS is a list of flags.
  timeout -k 60 $((deadline - SECONDS)) "$PY" -m "$module" "$@" ${EXTRA_FLAGS:-} \
    > "$OUT/$name.log" 2>&1 &
}

pack() {  # The newest checkpoint of each run is enough to continue it.
  for ckpts in "$RUNS"/*/*/checkpoints; do
    ls -d "$ckpts"/*/ 2>/dev/null | sort -V | head -n -1 | xargs -r rm -rf
  done
  tar czf - -C "$(dirname "$RUNS")" "$(basename "$RUNS")" | split -b 15M -d - "$OUT/runs.tgz."
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import jax; print('jax', jax.__version__, jax.devices())" || exit 1

case "$STAGE" in
  precision)
    for mode in sliding window; do
      for precision in default highest; do
        launch "qs_${mode}_${precision}" experiments.compare --preset=quickstart --agents=trmrl \
          --seeds=5 --seed=10 --attention=$mode --matmul_precision=$precision \
          --workdir="$RUNS/qs_${mode}_${precision}"
      done
    done
    wait
    for log in "$OUT"/qs_*.log; do echo "--- $log"; tail -n 4 "$log"; done
    pack ;;
  bench)
    BENCH=(experiments.benchmark --env=halfcheetah_vel --window=75 --d_model=128 --num_layers=2
           --num_heads=8 --d_ff=512 --repeats=3 --max_timed_s=15)
    for envs in 1024 4096 16384; do
      launch "bench_e${envs}" "${BENCH[@]}" --num_envs=$envs \
        --learners=env_only,brax_ppo,trmrl_sliding --json="$OUT/bench_e${envs}.json"
      wait $!
      launch "bench_e${envs}_bf16" "${BENCH[@]}" --num_envs=$envs --learners=trmrl_sliding \
        --compute_dtype=bfloat16 --json="$OUT/bench_e${envs}_bf16.json"
      wait $!
    done
    for envs in 1024 4096; do
      launch "bench_e${envs}_mjx" "${BENCH[@]}" --num_envs=$envs --backend=mjx \
        --learners=env_only,trmrl_sliding --json="$OUT/bench_e${envs}_mjx.json"
      wait $!
    done
    tail -n 12 "$OUT"/bench_*.log ;;
  mujoco)
    launch hc_vel_mjx_20M experiments.compare --preset=halfcheetah_vel --backend=mjx \
      --agents=trmrl,rl2 --seeds=3 --eval_tasks=50 --total_env_steps=20000000 \
      --workdir="$RUNS/hc_vel_mjx_20M"
    wait
    tail -n 8 "$OUT"/hc_vel_mjx_20M.log
    pack ;;
  paper)
    for backend in mjx spring; do
      for seeds in 1 4 16; do
        launch "paper_${backend}_s${seeds}" experiments.benchmark --preset=paper_halfcheetah_vel \
          --backend=$backend --num_seeds=$seeds --learners=trmrl_window --repeats=3 \
          --max_timed_s=30 --json="$OUT/paper_${backend}_s${seeds}.json"
        wait $!
      done
    done
    tail -n 3 "$OUT"/paper_*.log ;;
  *) echo "error: STAGE=$STAGE is not known; choose precision, bench, mujoco or paper" >&2
     exit 2 ;;
esac
