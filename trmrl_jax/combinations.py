"""The checks of ``config.validate`` that look at several fields together (each field alone is
checked against its ``config.RULES`` entry first); each raises ``ConfigError`` with a one-line
message. PPO's checks and PEARL's apart, so a learner brings its own.
"""

from __future__ import annotations

from typing import Any

from trmrl_jax.rules import ConfigError


def check_combinations(config: Any, num_devices: int | None) -> None:
    """``config``: a ``config.Config`` whose fields passed their rules; ``num_devices``: as in
    ``config.validate`` (None: the device-dependent checks are left for later)."""
    if config.seed + config.num_seeds - 1 > 2**31 - 1:
        raise ConfigError(f"seed={config.seed} with num_seeds={config.num_seeds} passes "
                          f"2**31 - 1; use a smaller seed")
    if config.lr_decay_begin >= config.lr_decay_stop:
        raise ConfigError(f"lr_decay_begin={config.lr_decay_begin} must come before the end of "
                          f"the decay (update {config.lr_decay_stop})")
    pearl = config.agent == "pearl"
    if not pearl:
        _check_ppo_network(config)
    if config.steps_per_update > config.total_env_steps:
        raise ConfigError(f"total_env_steps={config.total_env_steps} is smaller than one update "
                          f"({config.steps_per_update} env steps)")
    (_check_pearl if pearl else _check_ppo_batches)(config)
    if num_devices is None:
        return
    if config.num_tasks % num_devices:
        raise ConfigError(f"num_tasks={config.num_tasks} does not divide over {num_devices} "
                          f"devices; use a multiple of {num_devices}")
    if pearl and config.pearl_meta_batch % num_devices:
        raise ConfigError(f"pearl_meta_batch={config.pearl_meta_batch} does not divide over "
                          f"{num_devices} devices; use a multiple of {num_devices}")
    if not pearl:
        _check_ppo_device_share(config, config.num_tasks // num_devices)


def _check_pearl(config: Any) -> None:
    if config.minibatch_size:
        raise ConfigError(f"minibatch_size={config.minibatch_size} is PPO's; agent 'pearl' "
                          "samples pearl_batch_size transitions per task: use minibatch_size=0")
    if config.pearl_replay_capacity < config.trial_length:
        raise ConfigError(f"pearl_replay_capacity={config.pearl_replay_capacity} holds less than "
                          f"one trial ({config.trial_length} steps); use at least that")
    if config.reset_memory_each_episode:
        raise ConfigError("reset_memory_each_episode=True zeroes a_{t-1} and r_{t-1} at episode "
                          "starts, which PEARL's posterior reads: use False with agent 'pearl'")


def _check_ppo_network(config: Any) -> None:
    if config.d_model % config.num_heads or (config.d_model // config.num_heads) % 2:
        raise ConfigError(f"d_model={config.d_model} must split into num_heads={config.num_heads} "
                          "heads of even size")
    if config.window > config.trial_length:
        raise ConfigError(f"window={config.window} is larger than a trial "
                          f"(episodes_per_trial * episode_length = {config.trial_length})")
    if config.agent == "maml" and config.episodes_per_trial < 2:
        raise ConfigError(f"episodes_per_trial={config.episodes_per_trial} leaves MAML no "
                          "episode after an adaptation; use 2 or more")
    if config.attention == "sliding" and config.position == "sinusoid":
        raise ConfigError("position='sinusoid' (additive window-slot sinusoids) needs "
                          "attention='window'; sliding attention uses position='rotary'")


def _check_ppo_batches(config: Any) -> None:
    """What every device count needs (each device's share must split, so the whole must too)."""
    if config.minibatch_size and (config.agent in ("rl2", "maml") or (
            config.agent == "trmrl" and config.attention == "sliding")):
        raise ConfigError(
            f"minibatch_size={config.minibatch_size} splits trials into single steps, which "
            f"agent={config.agent!r} (attention={config.attention!r}) cannot train on: use "
            "minibatch_size=0 with num_minibatches, or agent trmrl with attention=window")
    if config.minibatch_size and config.steps_per_update % config.minibatches_per_epoch:
        raise ConfigError(
            f"minibatch_size={config.minibatch_size} gives {config.minibatches_per_epoch} "
            f"minibatches, which do not split the {config.steps_per_update} steps of an update "
            "evenly; choose a size whose minibatch count divides them")
    if not config.minibatch_size and config.num_tasks % config.num_minibatches:
        raise ConfigError(f"num_tasks={config.num_tasks} is not divisible by "
                          f"num_minibatches={config.num_minibatches}")


def _check_ppo_device_share(config: Any, local: int) -> None:
    """``local``: the tasks of one device's share."""
    if config.minibatch_size:
        num = config.minibatches_per_epoch
        if (local * config.trial_length) % num:
            raise ConfigError(
                f"minibatch_size={config.minibatch_size} gives {num} minibatches, which do not "
                f"split the {local * config.trial_length} steps per device evenly; choose a "
                f"size whose minibatch count divides {local * config.trial_length}")
    elif local % config.num_minibatches:
        raise ConfigError(f"num_tasks per device ({local}) is not divisible by "
                          f"num_minibatches={config.num_minibatches}")
