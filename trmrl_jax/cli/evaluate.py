"""Meta-test a trained run: frozen parameters, held-out tasks, K sequential episodes.

    python -m experiments.evaluate --workdir=runs/quickstart --num_tasks=20 --episodes=6
    python -m experiments.evaluate --workdir=runs/ml1_reach --num_tasks=50 --actions=sampled

Reads config.json and the newest checkpoint of --workdir; writes eval.json and adaptation.png
there (or into --out). adaptation.png draws the level of uniformly random actions on the same
tasks and, with --references=mlp=runs/mlp,oracle=runs/oracle, the meta-test levels of other runs
of the same distribution (e.g. the memoryless MLP and the oracle that sees the task).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np
from absl import flags

from trmrl_jax.cli import cache, output
from trmrl_jax.cli import flags as cli

if TYPE_CHECKING:
    from trmrl_jax.config import Config

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's folder.", required=True)
_NUM_TASKS = flags.DEFINE_integer("num_tasks", 20, "Held-out tasks per split.")
_EPISODES = flags.DEFINE_integer("episodes", 6, "Sequential episodes per trial (memory kept).")
_OUT = flags.DEFINE_string("out", None, "Folder for eval.json/adaptation.png (default: workdir).")
_SPLITS = flags.DEFINE_list("splits", ["train", "test", "ood"], "Task splits to evaluate (ood "
                            "only where the distribution has out-of-distribution tasks).")
_ATTENTION = flags.DEFINE_enum(
    "attention", None, ["sliding", "window"], "TrMRL: meta-test with this attention mode "
    "instead of the one the run trained with (the same parameters; with rotary positions the two "
    "modes are one function of them for the first N steps, then differ in what they reach).")
_BACKEND = flags.DEFINE_string(
    "backend", None, "Meta-test on this physics instead of the one the run trained on (the "
    "same parameters): another simulator of the same models, e.g. a run trained on MuJoCo's C "
    "engine (mujoco_c) on MJX (mjx). Results go to WORKDIR/on_BACKEND unless --out is given.")
_ACTIONS = flags.DEFINE_enum(
    "actions", None, ["mean", "sampled"], "Act with the policy's mean or sample its actions "
    "(default: the agent's own meta-test: the mean, except MAML, whose adaptation samples). "
    "Results go to WORKDIR/actions_ACTIONS unless --out is given.")
_REFERENCES = flags.DEFINE_list(
    "references", [], "NAME=WORKDIR,...: evaluated runs of the same distribution, meta-tested "
    "on as many tasks, whose level (mean over episodes) adaptation.png draws.")


def reference_levels(items: list[str], cfg, num_tasks: int) -> dict[str, dict[str, float]]:
    """``NAME=WORKDIR`` items -> {NAME: {split: mean return per episode}} from each run's
    eval.json. The runs must share the distribution, the episode length and the number of
    meta-test tasks, so that their tasks are this meta-test's (the same seed draws them)."""
    from trmrl_jax.config import Config, ConfigError
    from trmrl_jax.envs import SPLITS

    levels = {}
    for item in items:
        name, sep, workdir = item.partition("=")
        files = [os.path.join(workdir, f) for f in ("config.json", "eval.json")]
        if not (sep and name and workdir):
            raise ConfigError(f"references item {item!r} must be NAME=WORKDIR")
        if not all(os.path.exists(f) for f in files):
            raise ConfigError(f"references: {workdir!r} holds no meta-tested run (config.json "
                              "and eval.json)")
        with open(files[0]) as f:
            other = Config.from_dict(json.load(f))
        if (other.env, other.episode_length) != (cfg.env, cfg.episode_length):
            raise ConfigError(f"references: {workdir!r} ran env={other.env} with episode_length="
                              f"{other.episode_length}; this run has {cfg.env} and "
                              f"{cfg.episode_length}")
        with open(files[1]) as f:
            ev = json.load(f)
        tasks = {ev[s].get("num_tasks") for s in SPLITS if s in ev}
        if tasks != {num_tasks}:
            raise ConfigError(f"references: {workdir!r} was meta-tested on {sorted(tasks)} tasks; "
                              f"use --num_tasks={min(tasks)} here, or evaluate it with "
                              f"--num_tasks={num_tasks}")
        levels[name] = {s: float(np.mean(ev[s]["returns_per_episode"])) for s in SPLITS if s in ev}
    return levels


# Simulators of the same models: a run's parameters read the same observation on any of them.
_MODEL_FAMILIES = ({"mjx", "mujoco_c"}, {"spring", "positional", "generalized"},
                   {"mujoco_c", "mjx_warp"})


def other_physics(cfg: Config, backend: str) -> Config:
    """``cfg`` on ``backend``, refused unless ``backend`` simulates the models ``cfg.backend``
    does (Gym's on MJX and the C engine, Brax's on its pipelines, Meta-World's on the C engine
    and Warp) with an observation of the same size."""
    from trmrl_jax import envs
    from trmrl_jax.config import ConfigError, validate

    other = cfg.replace(backend=backend)
    validate(other)
    if envs.backends(cfg.env) is None:
        raise ConfigError(f"backend={backend!r}: env={cfg.env!r} has no physics to change")
    if not any({cfg.backend, backend} <= family for family in _MODEL_FAMILIES):
        raise ConfigError(f"backend={backend!r} does not simulate the models the run trained "
                          f"on with backend={cfg.backend!r}; choose another simulator of them")
    sizes = [envs.make(c.env, backend=c.backend).observation_size for c in (cfg, other)]
    if sizes[0] != sizes[1]:
        raise ConfigError(f"backend={backend!r} observes {sizes[1]} numbers of {cfg.env} where "
                          f"the run's {cfg.backend!r} observes {sizes[0]}: its parameters do "
                          "not fit")
    return other


def main(argv: list[str]) -> None:
    output.start_process()
    cache.use_compilation_cache()
    from trmrl_jax import envs
    from trmrl_jax.checkpoint import Checkpointer, has_checkpoint
    from trmrl_jax.config import ConfigError, validate
    from trmrl_jax.envs import SPLITS
    from trmrl_jax.evaluate import evaluate_seeds, write_results
    from trmrl_jax.faults import PhysicsFault
    from trmrl_jax.step import Run
    from trmrl_jax.workdir import read_config, restore_or_init

    workdir = _WORKDIR.value
    try:
        if not has_checkpoint(workdir):
            raise ConfigError(f"workdir={workdir!r} holds no trained run (config.json and "
                              "checkpoints/ are written by experiments.train)")
        for name, value in (("num_tasks", _NUM_TASKS.value), ("episodes", _EPISODES.value)):
            if value <= 0:
                raise ConfigError(f"{name}={value} must be a positive integer")
        bad = [s for s in _SPLITS.value if s not in SPLITS]
        if bad:
            raise ConfigError(f"splits={bad} not allowed; choose from {', '.join(SPLITS)}")
        cfg = read_config(workdir)
        if _ATTENTION.value and _ATTENTION.value != cfg.attention:
            if cfg.agent != "trmrl":
                raise ConfigError(f"attention={_ATTENTION.value!r} applies to agent trmrl, not "
                                  f"{cfg.agent!r}")
            cfg = cfg.replace(attention=_ATTENTION.value)
            validate(cfg)
        out = _OUT.value or workdir
        if _BACKEND.value and _BACKEND.value != cfg.backend:
            cfg = other_physics(cfg, _BACKEND.value)
            out = _OUT.value or os.path.join(workdir, f"on_{cfg.backend}")
        deterministic = None if _ACTIONS.value is None else _ACTIONS.value == "mean"
        if _ACTIONS.value and _OUT.value is None:
            out = os.path.join(out, f"actions_{_ACTIONS.value}")
        others = reference_levels(_REFERENCES.value, cfg, _NUM_TASKS.value)
        run = Run.create(cfg)
        splits = tuple(_SPLITS.value)
        if "ood" in splits and not run.env.has_ood:
            if flags.FLAGS["splits"].present:
                raise ConfigError(f"splits=ood: {cfg.env} has no out-of-distribution tasks; "
                                  "choose from train, test")
            splits = tuple(s for s in splits if s != "ood")
        ckpt = Checkpointer(workdir, cfg.keep_checkpoints)
        # Refuses a checkpoint of another version; skips (and leaves) damaged ones.
        state = restore_or_init(run, ckpt)
        ckpt.close()
    except ConfigError as e:
        output.fail(e)
    try:
        results = evaluate_seeds(run, state, num_tasks=_NUM_TASKS.value,
                                 episodes_per_trial=_EPISODES.value,
                                 splits=splits, references=True,
                                 deterministic=deterministic)
    except PhysicsFault as e:
        output.fail(e)
    results["reference"].update(others)
    os.makedirs(out, exist_ok=True)
    physics = f" ({cfg.backend})" if envs.backends(cfg.env) is not None else ""
    acting = ", sampled actions" if results["actions"] == "sampled" else ""
    write_results(results, out, title=f"{cfg.agent} on {cfg.env}{physics}{acting}")
    output.print_meta_test(results)


def run() -> None:
    """The ``trmrl-evaluate`` command and ``python -m experiments.evaluate``."""
    cli.run_app(main, __name__, config_flags=False)


if __name__ == "__main__":
    run()
