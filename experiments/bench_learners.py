"""The learners ``experiments.benchmark`` measures, each inside its own child process: our
compiled train step, the simulator alone (``env_only``) and Brax's own PPO, with the timing and
memory readings every record carries (the module docstring of ``experiments.benchmark`` defines
them).
"""

from __future__ import annotations

import os
import statistics
import sys
import time


def _peak_rss_mb() -> float:
    """Peak resident memory of this process. Linux's VmHWM belongs to this process's own address
    space; ``ru_maxrss`` also counts the parent's memory at the time it spawned the child (Linux
    keeps it across fork and exec), so it is only the fallback."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes on macOS, kilobytes elsewhere.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _device_peak_mb() -> float | None:
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    stats = device.memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20


def _time_steps(run_once, repeats: int, max_timed_s: float) -> tuple[float, list[float]]:
    """One untimed warm-up call of ``run_once`` (which blocks until done), then the wall times of
    up to ``repeats`` calls. Returns (warm-up seconds, times)."""
    t = time.perf_counter()
    run_once()  # The first run of a fresh executable pays one-off costs (buffers, thread pools).
    warmup_s = time.perf_counter() - t
    times: list[float] = []
    for _ in range(repeats):
        t = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - t)
        if sum(times) >= max_timed_s and len(times) >= min(2, repeats):
            break
    return warmup_s, times


def _rollout_seconds(run, state, repeats: int, max_timed_s: float) -> list[float]:
    """Wall times of the train step's rollout alone (``collect_trials``: physics and acting,
    every seed and device), compiled as its own program: the step's time minus this is the
    update's, this minus ``env_only``'s is acting's."""
    import jax
    from jax.sharding import PartitionSpec as P

    from trmrl_jax.distributed import AXIS
    from trmrl_jax.envs import TrialEnv
    from trmrl_jax.learners.base import collect_trials
    from trmrl_jax.step import with_matmul_precision

    cfg, learner = run.cfg, run.learner
    trial_env = TrialEnv(run.env, cfg.episode_length, cfg.episodes_per_trial,
                         cfg.reset_memory_each_episode)

    def rewards(s):  # A sum over every step, so nothing is optimised away.
        traj = collect_trials(learner, trial_env, learner.acting_params(s), s.key, s.key,
                              run.mesh.size)
        return jax.lax.psum(traj.reward.sum(), AXIS)

    program = jax.jit(with_matmul_precision(jax.shard_map(
        jax.vmap(rewards), mesh=run.mesh, in_specs=P(), out_specs=P(), check_vma=False),
        cfg.matmul_precision))
    compiled = program.lower(state).compile()
    return _time_steps(lambda: jax.block_until_ready(compiled(state)), repeats, max_timed_s)[1]


def bench_ours(cfg, repeats: int, max_timed_s: float, split: bool = False) -> dict:
    import jax

    from trmrl_jax.distributed import replicate
    from trmrl_jax.step import Run, init_state, make_train_step

    t0 = time.perf_counter()
    run = Run.create(cfg)
    state = jax.block_until_ready(replicate(init_state(run), run.mesh))
    step = make_train_step(run)
    tc = time.perf_counter()
    compiled = step.lower(state).compile()
    compile_s = time.perf_counter() - tc
    setup_s = time.perf_counter() - t0
    extra = {}
    if split:  # Before the step runs: it donates the state.
        extra["rollout_s_median"] = statistics.median(
            _rollout_seconds(run, state, repeats, max_timed_s))
    box = [state]

    def once():
        box[0], metrics = compiled(box[0])  # The state is donated: always pass the newest.
        jax.block_until_ready((box[0], metrics))

    warmup_s, times = _time_steps(once, repeats, max_timed_s)
    return dict(times=times, warmup_s=warmup_s, compile_s=compile_s, setup_s=setup_s, **extra)


def bench_env_only(cfg, repeats: int, max_timed_s: float) -> dict:
    import jax

    from trmrl_jax import envs
    from trmrl_jax.envs import TrialEnv
    from trmrl_jax.rollout import uniform_actions

    t0 = time.perf_counter()
    env = envs.make(cfg.env, backend=cfg.backend, worlds=cfg.num_tasks)  # Warp's buffers.
    trial_env = TrialEnv(env, cfg.episode_length, cfg.episodes_per_trial,
                         cfg.reset_memory_each_episode)

    def rollout(key):
        task_key, trial_key = jax.random.split(key)
        tasks = env.sample_tasks(task_key, cfg.num_tasks, "train")
        steps = uniform_actions(trial_env, tasks, jax.random.split(trial_key, cfg.num_tasks))
        return steps.reward.sum()  # Depends on every step, so nothing is optimised away.

    key = jax.random.PRNGKey(cfg.seed)
    tc = time.perf_counter()
    compiled = jax.jit(rollout).lower(key).compile()
    compile_s = time.perf_counter() - tc
    setup_s = time.perf_counter() - t0
    counter = [0]

    def once():
        counter[0] += 1
        jax.block_until_ready(compiled(jax.random.fold_in(key, counter[0])))

    warmup_s, times = _time_steps(once, repeats, max_timed_s)
    return dict(times=times, warmup_s=warmup_s, compile_s=compile_s, setup_s=setup_s)


def bench_brax_ppo(cfg, repeats: int, max_timed_s: float) -> dict:
    """Brax's PPO with one training step per training epoch and ``repeats + 2`` epochs: the first
    compiles (and runs), the second is the warm-up, the rest are timed. ``max_timed_s`` cannot
    stop Brax's loop early and is not used.

    With JAX 0.9.2 and Brax 0.14.2 the pmapped training epoch is compiled *twice*, on its first
    and on its second call (JAX_LOG_COMPILES shows the same program with the same logged shapes
    and shardings both times), so the warm-up epoch is a second compilation. ``compile_s`` is
    therefore the excess of the first two epochs over the median timed epoch: what a user of Brax
    pays before training runs at full speed.
    """
    del max_timed_s
    from brax import envs as brax_envs
    from brax.training.agents.ppo import train as brax_ppo

    from trmrl_jax import envs

    t0 = time.perf_counter()
    env = envs.make(cfg.env, backend=cfg.backend)
    environment = brax_envs.get_environment(env.brax_name, backend=cfg.backend)
    epochs = repeats + 2
    steps_per_update = cfg.num_tasks * cfg.trial_length
    callbacks: list[tuple[float, dict]] = []

    def progress(step, metrics):
        callbacks.append((time.perf_counter(), dict(metrics)))

    brax_ppo.train(
        environment=environment, num_timesteps=epochs * steps_per_update,
        num_evals=epochs + 1,  # num_evals - 1 training epochs, each of exactly one update.
        run_evals=False, num_eval_envs=1, episode_length=cfg.episode_length,
        num_envs=cfg.num_tasks, unroll_length=cfg.trial_length,
        batch_size=cfg.num_tasks // cfg.num_minibatches, num_minibatches=cfg.num_minibatches,
        num_updates_per_batch=cfg.num_epochs, learning_rate=cfg.learning_rate,
        entropy_cost=cfg.ent_coef, discounting=cfg.gamma, gae_lambda=cfg.gae_lambda,
        clipping_epsilon=cfg.clip_eps, reward_scaling=cfg.reward_scale,
        normalize_observations=cfg.normalize_obs, normalize_advantage=cfg.normalize_advantages,
        max_grad_norm=cfg.max_grad_norm, vf_loss_coefficient=cfg.vf_coef, seed=cfg.seed,
        max_devices_per_host=cfg.num_devices or None, progress_fn=progress)
    if len(callbacks) != epochs:
        raise RuntimeError(f"Brax PPO reported {len(callbacks)} epochs, expected {epochs}")
    # Brax times each epoch itself (until its metrics are ready) and reports steps / time.
    epoch_s = [steps_per_update / m["training/sps"] for _, m in callbacks]
    times = epoch_s[2:]
    median = statistics.median(times)
    return dict(times=times, warmup_s=epoch_s[1],
                compile_s=max(epoch_s[0] + epoch_s[1] - 2 * median, 0.0),
                setup_s=max(callbacks[1][0] - t0 - 2 * median, 0.0))


def run_child(name: str, cfg, repeats: int, max_timed_s: float, ours: dict,
              split: bool = False) -> dict:
    """Measures learner ``name`` (``env_only``, ``brax_ppo`` or a key of ``ours``, the Config
    changes of our learners) on ``cfg``: the JSON record ``experiments.benchmark`` reports.
    ``split``: ours also time their rollout alone (``rollout_s_median``)."""
    import jax

    base_mem = _peak_rss_mb()
    load_before = os.getloadavg()[0]
    if name == "env_only":
        out = bench_env_only(cfg, repeats, max_timed_s)
    elif name == "brax_ppo":
        out = bench_brax_ppo(cfg, repeats, max_timed_s)
    else:
        out = bench_ours(cfg.replace(**ours[name]), repeats, max_timed_s, split)
    times = out.pop("times")
    runs = cfg.num_seeds if name in ours else 1  # Ours run num_seeds seeds in one program.
    result = dict(sps=runs * cfg.steps_per_update / statistics.median(times), **out,
                  step_s_median=statistics.median(times), step_s=times, timed_steps=len(times),
                  peak_mem_mb=_peak_rss_mb(), base_mem_mb=base_mem,
                  loadavg_1m=[load_before, os.getloadavg()[0]],
                  backend=jax.default_backend())
    device_mb = _device_peak_mb()
    if device_mb is not None:
        result["peak_device_mem_mb"] = device_mb
    return result
