"""Named presets: the quick start, our settings for each registered distribution, and the
reference's runs flag for flag. Each is a ``Config``; ``--preset=NAME`` starts from one and
``--env=NAME`` from the distribution's own.
"""

from __future__ import annotations

from trmrl_jax.config import Config, ConfigError


def _paper_presets() -> dict[str, Config]:
    """The reference README's MuJoCo runs, flag for flag, on MuJoCo physics (BUILD.md, "The paper
    presets", lists every flag beside ours). Per iteration 20 tasks x 2 episodes x 200 steps; the
    window of 5 working memories is cleared at every episode; garage's PPO: Monte-Carlo value
    targets fitted by Gaussian likelihood, separate policy and value AdamW loops over minibatches
    of 256 samples, 10 epochs, no gradient clipping, no advantage or observation
    normalisation."""
    vel = Config(
        env="halfcheetah_vel", backend="mjx", episode_length=200, episodes_per_trial=2,
        num_tasks=20, reset_memory_each_episode=True, agent="trmrl", attention="window", window=5,
        num_layers=4, num_heads=16, d_model=128, d_ff=512, position="sinusoid",
        policy_input="latest_memory", value_input="token", init="tfixup", head_hidden=64,
        init_std=0.2, policy_out_gain=1.0, learning_rate=3e-5, value_learning_rate=2.5e-4,
        lr_final_fraction=0.1, value_lr_final_fraction=1.0, lr_decay_begin=100,
        lr_decay_end=750, lr_decay_shape="geometric", weight_decay=0.01, max_grad_norm=0.0,
        optimizer_layout="separate", value_target="monte_carlo", value_loss="gaussian",
        gamma=0.9, gae_lambda=0.8, clip_eps=0.1, num_epochs=10, minibatch_size=256,
        ent_coef=0.0, reward_scale=1.0, normalize_obs=False, normalize_advantages=False,
        total_env_steps=2500 * 8000, eval_tasks=20, eval_episodes=6,
        workdir="runs/paper_halfcheetah_vel")
    shared_trunk = dict(value_input="memory", init_std=0.5, clip_eps=0.2,
                        value_learning_rate=3e-5, value_lr_final_fraction=1e-4,
                        lr_final_fraction=1e-4)
    return {
        "paper_halfcheetah_vel": vel,
        "paper_halfcheetah_dir": vel.replace(
            env="halfcheetah_dir", lr_decay_begin=100, lr_decay_end=3700,
            total_env_steps=5000 * 8000, workdir="runs/paper_halfcheetah_dir", **shared_trunk),
        "paper_ant_dir": vel.replace(
            env="ant_dir_pm1rad", gamma=0.92, policy_out_gain=0.01, lr_decay_begin=500,
            lr_decay_end=3500, total_env_steps=5000 * 8000, workdir="runs/paper_ant_dir",
            **shared_trunk),
    }


def _distribution_presets() -> dict[str, Config]:
    """Our settings for each registered distribution: what ``--env=NAME`` alone runs. Locomotion
    runs fit a CPU budget (more tasks per update, sliding attention over a trial's episodes) on
    MuJoCo's C engine: the reference's physics, and on a CPU as fast to train on as Brax's
    spring approximation (BUILD.md, "Physics backends"; on a GPU pass ``--backend=mjx``). The
    clip at 10 rather than 1: at 1 it binds for TrMRL late in training (gradient norm 0.9-1.1)
    and slows it. RL^2's GRU of 160 matches TrMRL's parameter count (about 118k each)."""
    locomotion = Config(
        env="halfcheetah_vel", backend="mujoco_c", episode_length=100, episodes_per_trial=2,
        num_tasks=128, window=20, attention="sliding", init_std=0.5, policy_out_gain=1.0,
        learning_rate=3e-4, value_learning_rate=1e-3, gamma=0.95, gae_lambda=0.9, clip_eps=0.2,
        num_epochs=4, num_minibatches=4, reward_scale=0.1, max_grad_norm=10.0, gru_size=160,
        total_env_steps=5_000_000)
    presets = {"point_nav": Config(workdir="runs/point_nav")}
    for env, changes in (("halfcheetah_vel", {}), ("halfcheetah_dir", {}),
                         ("halfcheetah_rand_params", {}),
                         ("ant_fwd_back", {"gamma": 0.92, "policy_out_gain": 0.01}),
                         ("ant_dir_arc", {"gamma": 0.92, "policy_out_gain": 0.01}),
                         ("ant_dir_pm1rad", {"gamma": 0.92, "policy_out_gain": 0.01}),
                         ("ant_goal", {"gamma": 0.92, "policy_out_gain": 0.01})):
        presets[env] = locomotion.replace(env=env, workdir=f"runs/{env}", **changes)
    return presets


PRESETS: dict[str, Config] = {
    # TrMRL on the 2-D point distribution: meta-learns in a few minutes on a 2-core CPU. Trials
    # of 6 episodes, as many as the meta-test has (trained on 3, agents slide back after the
    # third); both rates decay to 0.1x from update 150 (2.3M env steps, when every seed has
    # taken off) to the last, 292 (without a decay some seeds collapse late in the run).
    "quickstart": Config(episodes_per_trial=6, num_tasks=128, total_env_steps=4_500_000,
                         lr_decay_begin=150, lr_final_fraction=0.1, value_lr_final_fraction=0.1,
                         eval_tasks=100, workdir="runs/quickstart"),
    **_distribution_presets(),
    **_paper_presets(),
}


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise ConfigError(f"preset={name!r} is not known; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def for_env(name: str) -> Config:
    """The configuration ``--env=NAME`` starts from: the distribution's preset, or for a
    distribution registered without one, the defaults with its own episode length and
    ``training_defaults`` (and the first backend it lists where it cannot run the default one:
    Meta-World's C engine)."""
    if name in PRESETS:
        return PRESETS[name]
    from trmrl_jax import envs  # Local import: the registry may hold user distributions.

    if name not in envs.registered():
        raise ConfigError(
            f"env={name!r} is not registered; choose one of {', '.join(envs.registered())}")
    config = Config(env=name, episode_length=envs.default_episode_length(name),
                    workdir=f"runs/{name}", **envs.training_defaults(name))
    backends = envs.backends(name)
    if backends is not None and config.backend not in backends:
        config = config.replace(backend=backends[0])
    return config
