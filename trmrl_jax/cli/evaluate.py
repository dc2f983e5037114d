"""Meta-test a trained run: frozen parameters, held-out tasks, K sequential episodes.

    python -m experiments.evaluate --workdir=runs/quickstart --num_tasks=20 --episodes=6

Reads config.json and the newest checkpoint of --workdir; writes eval.json and adaptation.png
there (or into --out).
"""

from __future__ import annotations

import json
import os

from absl import flags

from trmrl_jax.cli import flags as cli

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's folder.", required=True)
_NUM_TASKS = flags.DEFINE_integer("num_tasks", 20, "Held-out tasks per split.")
_EPISODES = flags.DEFINE_integer("episodes", 6, "Sequential episodes per trial (memory kept).")
_OUT = flags.DEFINE_string("out", None, "Folder for eval.json/adaptation.png (default: workdir).")
_SPLITS = flags.DEFINE_list("splits", ["train", "test", "ood"], "Task splits to evaluate.")


def main(argv: list[str]) -> None:
    cli.start_process()
    cli.use_compilation_cache()
    from trmrl_jax.checkpoint import Checkpointer, has_checkpoint
    from trmrl_jax.config import Config, ConfigError
    from trmrl_jax.envs import SPLITS
    from trmrl_jax.evaluate import write_results
    from trmrl_jax.step import Run
    from trmrl_jax.train import evaluate_seeds, restore_or_init

    workdir = _WORKDIR.value
    try:
        if not has_checkpoint(workdir) or not os.path.exists(os.path.join(workdir, "config.json")):
            raise ConfigError(f"workdir={workdir!r} holds no trained run (config.json and "
                              "checkpoints/ are written by experiments.train)")
        for name, value in (("num_tasks", _NUM_TASKS.value), ("episodes", _EPISODES.value)):
            if value <= 0:
                raise ConfigError(f"{name}={value} must be a positive integer")
        bad = [s for s in _SPLITS.value if s not in SPLITS]
        if bad:
            raise ConfigError(f"splits={bad} not allowed; choose from {', '.join(SPLITS)}")
        with open(os.path.join(workdir, "config.json")) as f:
            cfg = Config.from_dict(json.load(f))
        run = Run.create(cfg)
        ckpt = Checkpointer(workdir, cfg.keep_checkpoints)
        # Refuses a checkpoint of another version; skips (and leaves) damaged ones.
        state = restore_or_init(run, ckpt)
        ckpt.close()
    except ConfigError as e:
        cli.fail(e)
    results = evaluate_seeds(run, state, num_tasks=_NUM_TASKS.value, episodes=_EPISODES.value,
                             splits=tuple(_SPLITS.value), references=True)
    out = _OUT.value or workdir
    os.makedirs(out, exist_ok=True)
    write_results(results, out, title=f"{cfg.agent} on {cfg.env}")
    cli.print_meta_test(results)


def run() -> None:
    """The ``trmrl-evaluate`` command and ``python -m experiments.evaluate``."""
    cli.run_app(main, __name__, config_flags=False)


if __name__ == "__main__":
    run()
