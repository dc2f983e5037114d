"""Training throughput: environment steps per second of every learner on one env, batch and
PPO schedule, against the simulator's limit and against Brax's own PPO.

    python -m experiments.benchmark --env=halfcheetah_vel --num_envs=64 --json=runs/bench.json
    make bench

Learners (``--learners``, default all):

- ``env_only``: a random-action rollout of the same vmapped task distribution (``TrialEnv``: E
  episodes of H steps, a reset between episodes): the simulator's limit, no network, no update.
- ``brax_ppo``: ``brax.training.agents.ppo.train`` with its default MLP networks on the stock Brax
  env under the distribution (``halfcheetah`` for ``halfcheetah_vel``) with the same number of
  envs, steps per update (``unroll_length = T``, ``batch_size * num_minibatches = num_envs``) and
  epochs/minibatches (``num_updates_per_batch = num_epochs``). Skipped, with a note in the JSON,
  when the distribution does not run a stock Brax environment (``point_nav``, MuJoCo's physics).
- ``mlp``, ``rl2``, ``trmrl_sliding``, ``trmrl_window``: our compiled train step (rollout + GAE +
  every PPO epoch), with the config's N, layers and d_model.

What is measured, per learner:

- ``sps``: training env steps per second, ``num_envs * T`` (times ``num_seeds`` for ours, which
  run that many seeds in one program) over the *median* wall time of the timed
  steps (``--repeats`` of them, fewer (at least 2) once they have taken ``--max_timed_s``), after
  compilation and one untimed warm-up step (``warmup_s``: a fresh executable's first run pays
  one-off costs). For ``brax_ppo`` one step is one of Brax's training epochs holding exactly one
  training step, timed by Brax itself (its ``training/sps``); evaluation is off
  (``run_evals=False``), so nothing but training runs between epochs.
- ``compile_s``: compilation of the step program: ``jit(...).lower(...).compile()`` for ours and
  ``env_only``; for ``brax_ppo`` (which gives no handle on its compilation) the time of its first
  two training epochs (it compiles twice, see ``bench_brax_ppo``) minus twice the median time
  of the timed ones.
- ``setup_s``: everything before the first step could run (building the env and agent, initial
  state, compilation); for ``brax_ppo``, the time from calling its ``train`` until its second
  progress callback minus two median epochs.
- ``peak_mem_mb``: peak resident host memory (Linux ``VmHWM``) of the learner's process. Every
  learner runs in its own child process (the peak is process-wide and never decreases, so one
  process would report the largest learner so far for every later one, and compile times would
  depend on what was compiled before); the number therefore includes the interpreter with JAX,
  Flax and Brax imported, which ``base_mem_mb`` reports.
- ``peak_device_mem_mb`` where the device reports memory statistics (GPU/TPU): peak bytes in use.

Each child prints one JSON line; the parent validates everything first (refusals are one
``error:`` line and exit status 2, before any compilation), runs the children one after another,
prints the table and the ratios, and writes ``--json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

from absl import app, flags

from experiments.bench_learners import run_child
from trmrl_jax.cli import flags as cli
from trmrl_jax.cli import output

LEARNERS = ("env_only", "brax_ppo", "mlp", "rl2", "trmrl_sliding", "trmrl_window")
OURS = {"mlp": dict(agent="mlp"), "rl2": dict(agent="rl2"),
        "trmrl_sliding": dict(agent="trmrl", attention="sliding"),
        "trmrl_window": dict(agent="trmrl", attention="window")}
RATIOS = {"trmrl_sliding_vs_brax_ppo": ("trmrl_sliding", "brax_ppo"),
          "trmrl_sliding_vs_env_only": ("trmrl_sliding", "env_only"),
          "mlp_vs_brax_ppo": ("mlp", "brax_ppo"),
          "sliding_vs_window": ("trmrl_sliding", "trmrl_window")}
# The benchmark's own defaults for Config fields (a --preset replaces them all): HalfCheetahVel
# on Brax's spring physics (what Brax's PPO runs) with trials T = 2 x 100 >= 2N and the
# reference architecture N = 75, d_model 128, 2 layers, 8 heads, d_ff 512.
BENCH_DEFAULTS = dict(env="halfcheetah_vel", backend="spring", episode_length=100,
                      episodes_per_trial=2, num_tasks=64, window=75, d_model=128, num_layers=2,
                      num_heads=8, d_ff=512, num_epochs=4, num_minibatches=4)
_RESULT_TAG = "BENCHMARK_RESULT "
_CHILD_ENV = dict(os.environ)  # The children's environment: the user's, untouched.

_NUM_ENVS = flags.DEFINE_integer("num_envs", None, "Parallel envs (trials) per update: sets "
                                 f"Config.num_tasks (default {BENCH_DEFAULTS['num_tasks']}).")
_JSON = flags.DEFINE_string("json", None, "Write the results to this JSON file.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed steps per learner (median).")
_MAX_TIMED_S = flags.DEFINE_float("max_timed_s", 300.0, "Stop timing a learner after this many "
                                  "seconds of timed steps (but after at least 2).")
_LEARNERS = flags.DEFINE_list("learners", list(LEARNERS),
                              f"Learners to measure, any of {', '.join(LEARNERS)}.")
_SPLIT = flags.DEFINE_boolean(
    "split", False, "Also time our learners' rollout alone, to split the step into physics "
    "(env_only), acting (rollout - env_only) and the update (step - rollout).")
_CHILD = flags.DEFINE_string("child", None, "Internal: measure this one learner and print JSON.")
_CHILD_CONFIG = flags.DEFINE_string("child_config", None, "Internal: the Config as JSON.")


# -- the parent ----------------------------------------------------------------------------------
def hardware() -> str:
    import jax

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    devices = jax.devices()
    return (f"{model}, {cores} cores; jax {jax.__version__} backend {jax.default_backend()}, "
            f"{len(devices)} x {devices[0].device_kind}")


def bench_config():
    """The Config: ``--preset`` (or the benchmark's defaults) with the given flags applied."""
    from trmrl_jax.config import Config, ConfigError

    if flags.FLAGS["preset"].value:
        cfg = cli.config_from_flags()
    else:  # The flags' defaults are the benchmark's (set in __main__ below).
        cfg = Config(**{f.name: flags.FLAGS[f.name].value for f in dataclasses.fields(Config)})
    if _NUM_ENVS.value is not None:
        if flags.FLAGS["num_tasks"].present and _NUM_ENVS.value != cfg.num_tasks:
            raise ConfigError(f"--num_envs={_NUM_ENVS.value} and --num_tasks={cfg.num_tasks} "
                              "disagree; give one of them")
        cfg = cfg.replace(num_tasks=_NUM_ENVS.value)
    # Only the optimiser's schedule depends on the budget; a benchmark needs one update.
    return cfg.replace(total_env_steps=max(cfg.total_env_steps, cfg.steps_per_update))


def check(cfg, learners: list[str]) -> None:
    """Refuses bad input before anything is compiled (raises ConfigError)."""
    import jax

    from trmrl_jax.config import ConfigError, validate

    unknown = [n for n in learners if n not in LEARNERS]
    if unknown or not learners:
        raise ConfigError(f"--learners={','.join(learners)}: unknown {unknown or 'empty list'}; "
                          f"choose from {', '.join(LEARNERS)}")
    if len(set(learners)) != len(learners):
        raise ConfigError(f"--learners={','.join(learners)} names a learner twice")
    if _REPEATS.value <= 0 or not _MAX_TIMED_S.value > 0:
        raise ConfigError("--repeats and --max_timed_s must be positive")
    num_devices = cfg.num_devices or len(jax.devices())
    # Fields every learner shares first (window attention accepts both position encodings),
    # then what is particular to each of ours (e.g. sliding attention needs rotary positions).
    validate(cfg.replace(**OURS["trmrl_window"]), num_devices)
    for name in (n for n in learners if n in OURS):
        try:
            validate(cfg.replace(**OURS[name]), num_devices)
        except ConfigError as e:
            raise ConfigError(f"{name}: {e}") from None


def skip_reason(name: str, cfg) -> str | None:
    from trmrl_jax import envs

    if name == "brax_ppo" and not hasattr(envs.make(cfg.env, backend=cfg.backend), "brax_name"):
        return (f"env={cfg.env} with backend={cfg.backend} is not a stock Brax environment "
                "(Brax PPO runs Brax's own models: backend spring, positional or generalized)")
    return None


def spawn(name: str, cfg) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(_CHILD_ENV, PYTHONPATH=os.pathsep.join(
        p for p in (root, _CHILD_ENV.get("PYTHONPATH")) if p))
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.benchmark", f"--child={name}",
         f"--child_config={json.dumps(cfg.to_dict())}", f"--repeats={_REPEATS.value}",
         f"--max_timed_s={_MAX_TIMED_S.value}", f"--split={_SPLIT.value}"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_RESULT_TAG):
            return json.loads(line[len(_RESULT_TAG):])
    tail = proc.stderr.strip().splitlines()[-5:] or [f"exit status {proc.returncode}"]
    raise RuntimeError(" | ".join(tail))


def ratios(results: dict) -> dict:
    return {key: results[a]["sps"] / results[b]["sps"] for key, (a, b) in RATIOS.items()
            if a in results and b in results}


def split_times(results: dict) -> dict:
    """Per learner timed with ``--split``: seconds per step of physics (``env_only``'s step,
    when measured), acting (the rollout minus physics) and the update (the step minus the
    rollout)."""
    physics = results.get("env_only", {}).get("step_s_median")
    out = {}
    for name, r in results.items():
        if "rollout_s_median" in r:
            rollout = r["rollout_s_median"]
            out[name] = dict(physics_s=physics,
                             acting_s=None if physics is None else rollout - physics,
                             update_s=r["step_s_median"] - rollout)
    return out


def table(results: dict) -> str:
    device = any("peak_device_mem_mb" in r for r in results.values())
    head = (f"{'learner':<15}{'env steps/s':>13}{'step s':>9}{'compile s':>11}{'setup s':>9}"
            f"{'peak host MB':>14}" + (f"{'peak dev MB':>13}" if device else "") + f"{'timed':>7}")
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        dev = (f"{r.get('peak_device_mem_mb', float('nan')):>13.0f}" if device else "")
        rows.append(f"{name:<15}{r['sps']:>13,.0f}{r['step_s_median']:>9.3f}{r['compile_s']:>11.1f}"
                    f"{r['setup_s']:>9.1f}{r['peak_mem_mb']:>14.0f}{dev}{r['timed_steps']:>7d}")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        output.fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
    output.quiet_brax_import_noise()
    from trmrl_jax.config import Config, ConfigError

    if _CHILD.value:
        cfg = Config.from_dict(json.loads(_CHILD_CONFIG.value))
        result = run_child(_CHILD.value, cfg, _REPEATS.value, _MAX_TIMED_S.value, OURS,
                           _SPLIT.value)
        print(_RESULT_TAG + json.dumps(result), flush=True)
        return

    # The parent only counts devices; on a GPU it must not take the memory its children measure
    # (JAX reads this when the backend starts, at the first jax.devices()).
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        cfg = bench_config()
        learners = list(_LEARNERS.value)
        check(cfg, learners)
    except ConfigError as e:
        output.fail(e)
    hw = hardware()
    print(f"benchmark: env={cfg.env} backend={cfg.backend} num_envs={cfg.num_tasks} "
          f"T={cfg.episodes_per_trial}x{cfg.episode_length}={cfg.trial_length} "
          f"({cfg.steps_per_update} env steps per update), {cfg.num_epochs} epochs x "
          f"{cfg.num_minibatches} minibatches; N={cfg.window} d_model={cfg.d_model} "
          f"layers={cfg.num_layers} heads={cfg.num_heads} d_ff={cfg.d_ff}", flush=True)
    print(f"hardware: {hw}", flush=True)
    results, skipped, failed = {}, {}, {}
    t_start = time.perf_counter()
    for name in learners:
        reason = skip_reason(name, cfg)
        if reason:
            skipped[name] = reason
            print(f"  {name}: skipped ({reason})", flush=True)
            continue
        t = time.perf_counter()
        try:
            results[name] = spawn(name, cfg)
        except RuntimeError as e:
            failed[name] = str(e)
            print(f"  {name}: FAILED: {e}", file=sys.stderr, flush=True)
            continue
        r = results[name]
        print(f"  {name}: {r['sps']:,.0f} env steps/s, compile {r['compile_s']:.1f} s "
              f"({time.perf_counter() - t:.0f} s in all)", flush=True)
    wall_s = time.perf_counter() - t_start
    print()
    print(table(results))
    split = split_times(results)
    for name, parts in split.items():
        print(f"{name}: " + ", ".join(f"{k[:-2]} {v:.3f} s" for k, v in parts.items()
                                      if v is not None))
    rat = ratios(results)
    if rat:
        print()
        for key, value in rat.items():
            print(f"{key:<28}{value:8.3f}")
    print(f"\nwall time {wall_s:.0f} s")
    out = {"results": results, "ratios": rat, "split": split,
           "config": dict(cfg.to_dict(), num_envs=cfg.num_tasks, trial_length=cfg.trial_length,
                          steps_per_update=cfg.steps_per_update, repeats=_REPEATS.value,
                          max_timed_s=_MAX_TIMED_S.value, learners=learners),
           "hardware": hw, "wall_s": wall_s}
    if skipped:
        out["skipped"] = skipped
    if failed:
        out["failed"] = failed
    if _JSON.value:
        os.makedirs(os.path.dirname(os.path.abspath(_JSON.value)), exist_ok=True)
        with open(_JSON.value, "w") as f:
            json.dump(out, f, indent=2)
        print(f"results in {_JSON.value}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    cli.define_config_flags()
    for _name, _value in BENCH_DEFAULTS.items():
        flags.FLAGS.set_default(_name, _value)
    app.run(main)
