#!/usr/bin/env bash
# The accelerator check, one script so that a short lease runs it whole: what the machine is,
# the throughput benchmark (the CPU table's settings, then a GPU-sized batch in float32 and
# bfloat16), then the tests that check the device path. Each stage has its own time limit and
# writes its log to OUT as it goes, so a stage cut short still leaves what it printed. About ten
# minutes on an H200 (BUILD.md has its figures).
#
#     bash experiments/gpu_check.sh OUT [PYTHON]
set -u
OUT=${1:?usage: gpu_check.sh OUT [PYTHON]}
PY=${2:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

stage() {  # stage NAME SECONDS COMMAND...: run COMMAND under a time limit, log to OUT/NAME.log
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s) $(date +%T)"
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo "=== $name rc=$? in $((SECONDS - start)) s"
  tail -n 25 "$OUT/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import jax, flax, brax; print('jax', jax.__version__, 'flax', flax.__version__, \
'brax', brax.__version__, jax.devices())"

BENCH=("$PY" -m experiments.benchmark --env=halfcheetah_vel --window=75 --d_model=128
       --num_layers=2 --num_heads=8 --d_ff=512 --repeats=3 --max_timed_s=20)
stage bench_e64 280 "${BENCH[@]}" --num_envs=64 --json="$OUT/bench_e64.json"
stage bench_e1024 180 "${BENCH[@]}" --num_envs=1024 --learners=env_only,brax_ppo,trmrl_sliding \
  --json="$OUT/bench_e1024.json"
stage bench_e1024_bf16 75 "${BENCH[@]}" --num_envs=1024 --learners=trmrl_sliding \
  --compute_dtype=bfloat16 --json="$OUT/bench_e1024_bf16.json"
# The device-path tests: equivalences (sliding = masked full attention, step-by-step acting = one
# pass, bfloat16 near float32), one compilation and no host transfer inside the step, learning.
# They run at full float32 matmul precision, which their tolerances (set on CPU) assume; the GPU's
# default may use TF32. Their configs ask for it (matmul_precision='highest'); the variable
# covers the few that build their own arrays outside a Config.
# With pytest-xdist, several workers share the GPU, so none may take most of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false JAX_DEFAULT_MATMUL_PRECISION=highest
XDIST=$("$PY" -c "import xdist" 2>/dev/null && echo "-n 6")
# shellcheck disable=SC2086  # XDIST is empty or two words.
stage tests 100 "$PY" -m pytest -q -p no:cacheprovider $XDIST tests/test_networks.py tests/test_ppo.py \
  "tests/test_train.py::test_single_compilation_and_no_host_transfer_inside_the_step" \
  "tests/test_train.py::test_trmrl_learns_point_nav"
