"""One frozen configuration for a run and its validation (presets: ``trmrl_jax.presets``).

Everything a run needs is a field here; ``trmrl_jax/cli/flags.py`` generates one absl flag per
field, so the CLI and the Python API cannot drift apart. ``validate`` runs before anything is
compiled and raises ``ConfigError`` with a one-line message naming the bad value and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

from trmrl_jax.combinations import check_combinations
from trmrl_jax.rules import ConfigError, Rule, address, integer, number, one_of

AGENTS = ("trmrl", "rl2", "mlp", "oracle", "maml", "pearl")
ATTENTION_MODES = ("sliding", "window")
POSITIONS = ("rotary", "sinusoid")
POLICY_INPUTS = ("latest_memory", "mixed_memory")
VALUE_INPUTS = ("memory", "token")
VALUE_TARGETS = ("gae", "monte_carlo")
VALUE_LOSSES = ("squared", "gaussian")
OPTIMIZER_LAYOUTS = ("joint", "separate")
LR_SHAPES = ("linear", "geometric")
INITS = ("tfixup", "default")
# trmrl_jax.physics.BACKENDS (bodies) and trmrl_jax.physics.sawyer.BACKENDS (Meta-World scenes).
BACKENDS = ("spring", "positional", "generalized", "mjx", "mujoco_c", "mjx_warp")
COMPUTE_DTYPES = ("float32", "bfloat16")
MATMUL_PRECISIONS = ("default", "high", "highest")


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole run. Sizes are per update unless stated otherwise.

    A field is documented by the comment above it or at the end of its line; fields with no such
    comment are documented here. ``--help`` shows the one a field has.

    Fields:
        env: task distribution, by registered name (point_nav, halfcheetah_vel, ...; README).
        agent: trmrl (transformer episodic memory), rl2 (GRU), mlp (no memory), oracle (an MLP
            that sees the task parameters), all trained by PPO; maml (an MLP whose parameters
            adapt by policy-gradient steps between the episodes of a trial, PPO outer step); or
            pearl (SAC with a latent task posterior).
        attention: sliding (banded attention in one pass, KV cache while acting) or window (the
            paper's per-step re-encoding of the last N working memories).
        num_layers: transformer layers.
        num_heads: attention heads per layer.
        d_model: transformer width.
        d_ff: hidden width of each layer's feed-forward block.
        position: rotary (relative, both attention modes) or sinusoid (additive window-slot
            encoding of the reference; window attention only).
        policy_input: what the policy and value heads read: latest_memory (the episodic memory)
            or mixed_memory (working memory concatenated with episodic memory).
        value_input: what the value head reads: memory (what the policy reads) or token (the
            raw working memory of the step).
        init: tfixup (T-Fixup scaling, no LayerNorm) or default (Flax's initialisers).
        total_env_steps: environment steps of the run per seed; updates = this // steps per
            update.
        lr_decay_begin: update at which both learning rates start to decay.
        lr_decay_end: update at which the decay ends (0: the last update).
        lr_decay_shape: linear or geometric decay between lr_decay_begin and lr_decay_end.
        gamma: discount factor.
        gae_lambda: lambda of generalised advantage estimation.
        clip_eps: PPO's clip range of the probability ratio.
        num_epochs: passes of PPO over each update's batch of trials.
        vf_coef: weight of the value loss in the joint loss.
        ent_coef: weight of the entropy bonus.
        reward_scale: factor on rewards for PPO only; reported returns are unscaled.
        normalize_obs: normalise observations by running statistics kept in the train state.
        normalize_advantages: normalise advantages per minibatch.
        eval_tasks: held-out tasks per split in each meta-test.
        eval_episodes: episodes of each meta-test trial, memory kept across them.
        ood: also meta-test the out-of-distribution split (when the distribution has one).
        seed: seed of the first run; run i of num_seeds uses seed + i.
        process_id: this process's index in a multi-process run (-1: single or detected).
        log_every: updates between rows of metrics.jsonl (and progress lines).
        checkpoint_every: updates between checkpoints.
        keep_checkpoints: newest checkpoints kept.
        workdir: folder of the run's outputs (config, metrics, checkpoints, results, figures).
    """

    # Task distribution and trials.
    env: str = "point_nav"
    # Physics. Locomotion: MuJoCo's own on Gym's models, as the reference's environments define
    # them, either mjx (stepped by MJX inside the compiled step, any device) or mujoco_c
    # (MuJoCo's C engine called from it, float64, the fast one on CPUs); or Brax's pipelines on
    # Brax's models: spring (the fast impulse-based approximation), positional, generalized.
    # Meta-World: mujoco_c, or for ml1_* also mjx_warp (MJX's Warp implementation).
    backend: str = "spring"
    episode_length: int = 20  # H: steps per episode.
    episodes_per_trial: int = 3  # E: episodes per trial during meta-training.
    num_tasks: int = 256  # Trials (one task each) per update, over all devices.
    # True: the window is cleared and a_{t-1}, r_{t-1} are zeroed at every episode start, as in
    # the reference code (memory then never crosses episodes).
    reset_memory_each_episode: bool = False

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
    mlp_hidden: int = 0  # Width of the mlp, oracle and maml networks' tanh layers (0: head_hidden).
    maml_inner_lr: float = 0.1  # MAML: step size of the inner policy-gradient steps.
    maml_inner_steps: int = 1  # MAML: inner steps at each adaptation (between episodes).
    # Matmul dtype of the transformer (embedding, attention, FFN) and its KV cache. bfloat16
    # halves their memory traffic on GPU/TPU; parameters, heads, softmax and the loss stay
    # float32. On CPU bfloat16 is emulated and slower: keep float32 there.
    compute_dtype: str = "float32"
    # Precision of float32 matmuls in training, meta-test and pictures (JAX's
    # ``default_matmul_precision``): "default" lets the backend choose (TF32 on NVIDIA GPUs since
    # Ampere, full float32 on CPU), "highest" asks for full float32 everywhere, so a GPU run takes
    # the CPU's numerical path. On the CPU every value computes the same.
    matmul_precision: str = "default"
    init_std: float = 0.5  # Initial std of the state-independent Gaussian policy.
    # Xavier gain of the policy mean layer: a small first policy. The reference uses 0.01 for Ant
    # and Meta-World and plain Xavier (1.0) for HalfCheetah.
    policy_out_gain: float = 0.01

    # PPO.
    total_env_steps: int = 1_500_000
    learning_rate: float = 1e-3  # Policy (and shared trunk) learning rate.
    value_learning_rate: float = 1e-3  # Value-head learning rate.
    # Each rate decays from update lr_decay_begin to lr_decay_end to its final fraction.
    lr_final_fraction: float = 1.0  # Policy rate at the end of the decay / learning_rate.
    value_lr_final_fraction: float = 1.0  # Value rate at the end / value_learning_rate.
    lr_decay_begin: int = 0
    lr_decay_end: int = 0
    lr_decay_shape: str = "linear"
    weight_decay: float = 0.01  # AdamW, as in the reference.
    max_grad_norm: float = 1.0  # Global-norm gradient clipping; 0 turns it off.
    # "joint": one loss (policy + vf_coef * value) and one optimiser step per minibatch.
    # "separate": the reference's layout: all policy epochs, then all value epochs, each with its
    # own AdamW (the value optimiser also trains a shared trunk).
    optimizer_layout: str = "joint"
    value_target: str = "gae"  # "gae": lambda-returns; "monte_carlo": discounted trial returns.
    value_loss: str = "squared"  # "gaussian": NLL under a learned std (garage's value function).
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    num_epochs: int = 4
    num_minibatches: int = 4  # Minibatches of whole trials per epoch (when minibatch_size=0).
    # >0: minibatches of this many single steps instead of whole trials (agents without a
    # recurrent sequence: window-mode TrMRL, MLP, oracle), as the reference does.
    minibatch_size: int = 0
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    reward_scale: float = 1.0
    normalize_obs: bool = True
    normalize_advantages: bool = True
    # >0: the epochs after one whose mean approximate KL to the acting policy exceeds this change
    # nothing (the policy loop's, in the separate layout); 0: every epoch runs.
    target_kl: float = 0.0

    # PEARL (agent=pearl; oyster's values except the buffer and the steps per update).
    pearl_train_tasks: int = 100  # Fixed training tasks drawn at init, each with its buffers.
    pearl_replay_capacity: int = 10_000  # Transitions kept per training task (circular).
    pearl_grad_steps: int = 500  # Gradient steps per update (oyster: 2000 per ~5000 env steps).
    pearl_meta_batch: int = 16  # Training tasks per gradient step, over all devices.
    pearl_batch_size: int = 256  # RL transitions per task and gradient step.
    pearl_context_size: int = 100  # Context transitions per task, from its latest trial.
    pearl_latent_size: int = 5  # Size of the latent task variable z.
    pearl_hidden: int = 300  # Width of the 3 ReLU layers of the policy, Q and V networks.
    pearl_encoder_hidden: int = 200  # Width of the context encoder's 3 ReLU layers.
    pearl_kl_lambda: float = 0.1  # Weight of KL(posterior || prior) in the encoder's loss.
    pearl_learning_rate: float = 3e-4  # Adam's rate for the policy, Q, V and encoder.
    pearl_tau: float = 0.005  # Polyak rate of the target V.
    pearl_reward_scale: float = 5.0  # Reward factor in the Bellman target: 1 / entropy weight.

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

    @property
    def lr_decay_stop(self) -> int:
        """The update at which both learning rates reach their final fractions."""
        return self.lr_decay_end or self.num_updates

    @property
    def minibatches_per_epoch(self) -> int:
        """Minibatches per epoch: ``num_minibatches`` of trials, or with ``minibatch_size`` the
        fewest equal minibatches of at most that many steps (8,000 steps at 256: 32 of 250)."""
        if not self.minibatch_size:
            return self.num_minibatches
        return -(-self.steps_per_update // self.minibatch_size)

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


def _registered_envs() -> tuple[str, ...]:
    from trmrl_jax import envs  # Local import: the registry may hold user distributions.

    return envs.registered()


def _env_backends(name: str) -> tuple[str, ...] | None:
    from trmrl_jax import envs

    return envs.backends(name)


_FLAG = Rule(lambda v: isinstance(v, bool), "True or False")
_POSITIVE = integer(1)
_COUNT = integer(0)
_FRACTION = number(0.0, 1.0)

# Every Config field and the values it allows, checked one by one by ``validate`` (which then
# checks the combinations). tests/test_config.py tries an invalid value of every field, so a
# field added to Config without an entry here fails the tests.
RULES: dict[str, Rule] = {
    "env": Rule(lambda v: isinstance(v, str) and v in _registered_envs(),
                lambda: "one of " + ", ".join(_registered_envs())),
    "backend": one_of(BACKENDS),
    "episode_length": _POSITIVE,
    "episodes_per_trial": _POSITIVE,
    "num_tasks": _POSITIVE,
    "reset_memory_each_episode": _FLAG,
    "agent": one_of(AGENTS),
    "attention": one_of(ATTENTION_MODES),
    "window": _POSITIVE,
    "num_layers": _POSITIVE,
    "num_heads": _POSITIVE,
    "d_model": _POSITIVE,
    "d_ff": _POSITIVE,
    "position": one_of(POSITIONS),
    "policy_input": one_of(POLICY_INPUTS),
    "value_input": one_of(VALUE_INPUTS),
    "init": one_of(INITS),
    "head_hidden": _POSITIVE,
    "gru_size": _POSITIVE,
    "mlp_hidden": _COUNT,  # 0: head_hidden.
    "maml_inner_lr": number(0.0, low_open=True),
    "maml_inner_steps": _POSITIVE,
    "compute_dtype": one_of(COMPUTE_DTYPES),
    "matmul_precision": one_of(MATMUL_PRECISIONS),
    "init_std": number(0.0, low_open=True),
    "policy_out_gain": number(0.0, low_open=True),
    "total_env_steps": _POSITIVE,
    "learning_rate": number(0.0, low_open=True),
    "value_learning_rate": number(0.0, low_open=True),
    "lr_final_fraction": number(0.0, 1.0, low_open=True),
    "value_lr_final_fraction": number(0.0, 1.0, low_open=True),
    "lr_decay_begin": _COUNT,
    "lr_decay_end": _COUNT,
    "lr_decay_shape": one_of(LR_SHAPES),
    "weight_decay": number(0.0),
    "max_grad_norm": number(0.0),  # 0: no clipping.
    "optimizer_layout": one_of(OPTIMIZER_LAYOUTS),
    "value_target": one_of(VALUE_TARGETS),
    "value_loss": one_of(VALUE_LOSSES),
    "gamma": _FRACTION,
    "gae_lambda": _FRACTION,
    # The PPO ratio is clipped to [1 - eps, 1 + eps]: eps >= 1 leaves no lower clip.
    "clip_eps": number(0.0, 1.0, low_open=True, high_open=True),
    "num_epochs": _POSITIVE,
    "num_minibatches": _POSITIVE,
    "minibatch_size": _COUNT,  # 0: num_minibatches of whole trials.
    "vf_coef": number(0.0),
    "ent_coef": number(0.0),
    "reward_scale": number(0.0, low_open=True),
    "normalize_obs": _FLAG,
    "normalize_advantages": _FLAG,
    "target_kl": number(0.0),  # 0: off.
    "pearl_train_tasks": _POSITIVE,
    "pearl_replay_capacity": _POSITIVE,
    "pearl_grad_steps": _POSITIVE,
    "pearl_meta_batch": _POSITIVE,
    "pearl_batch_size": _POSITIVE,
    "pearl_context_size": _POSITIVE,
    "pearl_latent_size": _POSITIVE,
    "pearl_hidden": _POSITIVE,
    "pearl_encoder_hidden": _POSITIVE,
    "pearl_kl_lambda": number(0.0),
    "pearl_learning_rate": number(0.0, low_open=True),
    "pearl_tau": number(0.0, 1.0, low_open=True),
    "pearl_reward_scale": number(0.0, low_open=True),
    "eval_tasks": _POSITIVE,
    "eval_episodes": _POSITIVE,
    "eval_every": _COUNT,  # 0: only at the end.
    "ood": _FLAG,
    "seed": integer(0, 2**31 - 1),  # Seeds seed .. seed + num_seeds - 1 are int32.
    "num_seeds": _POSITIVE,
    "num_devices": _COUNT,  # 0: every device.
    "coordinator_address": Rule(address, "'' or host:port with a port in [1, 65535]"),
    "num_processes": _COUNT,  # 0: single, or detected.
    "process_id": integer(-1),  # -1: detected.
    "coordinator_timeout_s": _POSITIVE,
    "resume": _FLAG,
    "log_every": _POSITIVE,
    "checkpoint_every": _POSITIVE,
    "keep_checkpoints": _POSITIVE,
    "workdir": Rule(lambda v: isinstance(v, str) and bool(v.strip()) and "\0" not in v,
                    "a non-empty path"),
}


def validate(config: Config, num_devices: int | None = None) -> None:
    """Checks ``config`` before any compilation; raises ``ConfigError`` naming the first bad value.

    Each field against its ``RULES`` entry first, then the combinations (``combinations``).
    ``num_devices`` is the number of devices the run will use (global over processes); None
    while it is not known (a multi-process run before it joins the others): the checks that
    depend on it are then left to ``train.Run.create``, which always passes it.
    """
    for field in dataclasses.fields(config):
        value, rule = getattr(config, field.name), RULES[field.name]
        if not rule.check(value):
            raise ConfigError(f"{field.name}={value!r} is not allowed; it must be "
                              f"{rule.describe()}")
    backends = _env_backends(config.env)
    if backends is not None and config.backend not in backends:
        raise ConfigError(f"backend={config.backend!r} cannot simulate env={config.env!r}; "
                          f"choose one of {', '.join(backends)}")
    check_combinations(config, num_devices)
