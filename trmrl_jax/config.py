"""One frozen configuration for a run, its validation, and named presets.

Everything a run needs is a field here; ``experiments/`` generates one absl flag per field, so the
CLI and the Python API cannot drift apart. ``validate`` runs before anything is compiled and raises
``ConfigError`` with a one-line message naming the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

AGENTS = ("trmrl", "rl2", "mlp", "oracle")
ATTENTION_MODES = ("sliding", "window")
POSITIONS = ("rotary", "sinusoid")
POLICY_INPUTS = ("latest_memory", "mixed_memory")
VALUE_INPUTS = ("memory", "token")
INITS = ("tfixup", "default")
BACKENDS = ("spring", "positional", "generalized", "mjx")
COMPUTE_DTYPES = ("float32", "bfloat16")


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names it and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole run. Sizes are per update unless stated otherwise."""

    # Task distribution and trials.
    env: str = "point_nav"
    backend: str = "spring"  # Brax physics pipeline for Brax-based distributions.
    episode_length: int = 20  # H: steps per episode.
    episodes_per_trial: int = 3  # E: episodes per trial during meta-training.
    num_tasks: int = 256  # Trials (one task each) per update, over all devices.
    reset_memory_each_episode: bool = False  # True reproduces the reference code exactly.

    # Agent.
    agent: str = "trmrl"
    attention: str = "sliding"
    window: int = 60  # N: working memories each token attends to (60: a whole E=3, H=20 trial).
    num_layers: int = 2
    num_heads: int = 4
    d_model: int = 64
    d_ff: int = 256
    position: str = "rotary"
    policy_input: str = "latest_memory"
    value_input: str = "memory"
    init: str = "tfixup"
    head_hidden: int = 64  # Width of the two tanh layers of the policy and value heads.
    gru_size: int = 128  # RL^2 hidden state.
    # Matmul dtype of the transformer (embedding, attention, FFN) and its KV cache. bfloat16
    # halves their memory traffic on GPU/TPU; parameters, heads, softmax and the loss stay
    # float32. On CPU bfloat16 is emulated and slower: keep float32 there.
    compute_dtype: str = "float32"
    init_std: float = 0.5  # Initial std of the state-independent Gaussian policy.
    policy_out_gain: float = 0.01  # Xavier gain of the policy mean layer.

    # PPO.
    total_env_steps: int = 1_500_000
    learning_rate: float = 1e-3  # Policy (and shared trunk) learning rate.
    value_learning_rate: float = 1e-3  # Value-head learning rate.
    lr_final_fraction: float = 1.0  # Linear decay of both rates to this fraction at the end.
    weight_decay: float = 0.01  # AdamW, as in the reference.
    max_grad_norm: float = 1.0
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    num_epochs: int = 4
    num_minibatches: int = 4
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    reward_scale: float = 1.0
    normalize_obs: bool = True
    normalize_advantages: bool = True

    # Meta-test.
    eval_tasks: int = 20
    eval_episodes: int = 6
    eval_every: int = 0  # Updates between meta-tests during training (0: only at the end).
    ood: bool = True

    # Run control.
    seed: int = 0
    num_seeds: int = 1  # Independent runs vmapped into one program.
    num_devices: int = 0  # 0: every device (of every process).
    coordinator_address: str = ""  # host:port of process 0, for multi-process runs.
    num_processes: int = 0  # 0: single process, or detected (TPU pod, SLURM, Open MPI).
    process_id: int = -1
    coordinator_timeout_s: int = 120  # Give up joining the coordinator after this long.
    resume: bool = True  # Continue from the workdir's newest checkpoint; False refuses one.
    log_every: int = 1
    checkpoint_every: int = 50
    keep_checkpoints: int = 3
    workdir: str = "runs/default"

    @property
    def trial_length(self) -> int:
        """T = E * H environment steps per trial."""
        return self.episodes_per_trial * self.episode_length

    @property
    def steps_per_update(self) -> int:
        """Environment steps one update collects over all devices and tasks (per seed)."""
        return self.num_tasks * self.trial_length

    @property
    def num_updates(self) -> int:
        return max(1, self.total_env_steps // self.steps_per_update)

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**d)


def _choice(name: str, value: str, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(allowed)}")


def validate(config: Config, num_devices: int | None = None) -> None:
    """Checks ``config`` before any compilation; raises ``ConfigError`` naming the first bad value.

    ``num_devices`` is the number of devices the run will use (global over processes).
    """
    from trmrl_jax import envs  # Local import: the registry may hold user distributions.

    if config.env not in envs.registered():
        raise ConfigError(
            f"env={config.env!r} is not registered; choose one of {', '.join(envs.registered())}")
    _choice("agent", config.agent, AGENTS)
    _choice("attention", config.attention, ATTENTION_MODES)
    _choice("position", config.position, POSITIONS)
    _choice("policy_input", config.policy_input, POLICY_INPUTS)
    _choice("value_input", config.value_input, VALUE_INPUTS)
    _choice("init", config.init, INITS)
    _choice("backend", config.backend, BACKENDS)
    _choice("compute_dtype", config.compute_dtype, COMPUTE_DTYPES)
    positive = ("episode_length", "episodes_per_trial", "num_tasks", "window", "num_layers",
                "num_heads", "d_model", "d_ff", "head_hidden", "gru_size", "total_env_steps",
                "num_epochs", "num_minibatches", "eval_tasks", "eval_episodes", "num_seeds",
                "log_every", "checkpoint_every", "keep_checkpoints")
    for name in positive:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name}={getattr(config, name)} must be a positive integer")
    for name in ("learning_rate", "value_learning_rate", "init_std", "reward_scale"):
        if not getattr(config, name) > 0:
            raise ConfigError(f"{name}={getattr(config, name)} must be > 0")
    for name in ("gamma", "gae_lambda", "lr_final_fraction"):
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ConfigError(f"{name}={getattr(config, name)} must lie in [0, 1]")
    if config.eval_every < 0 or config.num_devices < 0:
        raise ConfigError("eval_every and num_devices must be >= 0")
    if config.d_model % config.num_heads or (config.d_model // config.num_heads) % 2:
        raise ConfigError(f"d_model={config.d_model} must split into num_heads={config.num_heads} "
                          "heads of even size")
    if config.window > config.trial_length:
        raise ConfigError(f"window={config.window} is larger than a trial "
                          f"(episodes_per_trial * episode_length = {config.trial_length})")
    if config.attention == "sliding" and config.position == "sinusoid":
        raise ConfigError("position='sinusoid' (additive window-slot sinusoids) needs "
                          "attention='window'; sliding attention uses position='rotary'")
    devices = num_devices or 1
    if config.num_tasks % devices:
        raise ConfigError(f"num_tasks={config.num_tasks} does not divide over {devices} devices; "
                          f"use a multiple of {devices}")
    local = config.num_tasks // devices
    if local % config.num_minibatches:
        raise ConfigError(f"num_tasks per device ({local}) is not divisible by "
                          f"num_minibatches={config.num_minibatches}")
    if config.steps_per_update > config.total_env_steps:
        raise ConfigError(f"total_env_steps={config.total_env_steps} is smaller than one update "
                          f"({config.steps_per_update} env steps)")


PRESETS: dict[str, Config] = {
    # TrMRL on the 2-D point distribution: meta-learns in a few minutes on a 2-core CPU.
    "quickstart": Config(total_env_steps=3_000_000, eval_tasks=100, workdir="runs/quickstart"),
    # The reference HalfCheetahVel hyper-parameters (design brief section 1), memory kept.
    "halfcheetah_vel": Config(
        env="halfcheetah_vel", episode_length=200, episodes_per_trial=2, num_tasks=20,
        window=5, num_layers=4, num_heads=16, d_model=128, d_ff=512, attention="window",
        value_input="token", init_std=0.2, learning_rate=3e-5, value_learning_rate=2.5e-4,
        lr_final_fraction=0.1, gamma=0.9, gae_lambda=0.8, clip_eps=0.1, num_epochs=10,
        num_minibatches=4, normalize_advantages=False, normalize_obs=False,
        total_env_steps=20_000_000, workdir="runs/halfcheetah_vel"),
    # A CPU-budget HalfCheetahVel run: more tasks per update, faster rates, sliding attention.
    "halfcheetah_vel_fast": Config(
        env="halfcheetah_vel", episode_length=100, episodes_per_trial=2, num_tasks=128,
        window=20, attention="sliding", init_std=0.5, learning_rate=3e-4,
        value_learning_rate=1e-3, gamma=0.95, gae_lambda=0.9, clip_eps=0.2, num_epochs=4,
        num_minibatches=4, reward_scale=0.1, total_env_steps=5_000_000,
        workdir="runs/halfcheetah_vel_fast"),
}


def _locomotion_presets() -> dict[str, Config]:
    """The other locomotion distributions, each at the reference settings where the brief gives
    them (std 0.5, value head on the shared trunk, clip 0.2, gamma 0.92 for Ant, 40M steps) and
    HalfCheetahVel's otherwise, and each as a CPU-budget ``_fast`` variant."""
    presets = {}
    for env, changes in (("halfcheetah_dir", {}), ("halfcheetah_rand_params", {}),
                         ("ant_dir", {"gamma": 0.92}), ("ant_goal", {"gamma": 0.92})):
        presets[env] = PRESETS["halfcheetah_vel"].replace(
            env=env, value_input="memory", init_std=0.5, clip_eps=0.2,
            total_env_steps=40_000_000, workdir=f"runs/{env}", **changes)
        presets[f"{env}_fast"] = PRESETS["halfcheetah_vel_fast"].replace(
            env=env, workdir=f"runs/{env}_fast", **changes)
    return presets


PRESETS.update(_locomotion_presets())


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise ConfigError(f"preset={name!r} is not known; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
