"""Train a meta-RL agent, then meta-test it.

    python -m experiments.train --preset=quickstart
    python -m experiments.train --env=halfcheetah_vel --agent=trmrl --total_env_steps=2000000 \
        --workdir=runs/hc

Writes config.json, metrics.jsonl, tensorboard/, checkpoints/ (orbax, whole train state),
eval.json, adaptation.png and learning_curve.png into --workdir; resumes when the workdir holds
a checkpoint.

Exit status: 0 done; 2 input refused, training diverged or the physics faulted (one line on
stderr); 75 stopped by SIGTERM or SIGINT after checkpointing (the same command continues the
run).
"""

from __future__ import annotations

from trmrl_jax.cli import cache, output
from trmrl_jax.cli import flags as cli


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        output.fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
    output.start_process()
    from trmrl_jax.config import ConfigError, validate
    from trmrl_jax.distributed import CoordinatorUnreachable, initialize, make_mesh
    from trmrl_jax.faults import PhysicsFault
    from trmrl_jax.train import TrainingDiverged, TrainingStopped, train
    from trmrl_jax.workdir import check_workdir

    try:
        cfg = cli.config_from_flags()
        validate(cfg)  # Before printing: a refused config prints only its one-line error.
        initialize(cfg)  # Joins the other processes: the devices and the platform are known.
        validate(cfg, make_mesh(cfg.num_devices).size)
        check_workdir(cfg)
        cache.use_compilation_cache()
        logger = cli.wandb_logger(cfg)
        output.print_config(cfg)
        train(cfg, callbacks=[logger] if logger else [])
    except TrainingStopped as e:
        output.stopped(e)
    except (ConfigError, TrainingDiverged, PhysicsFault) as e:
        output.fail(e)
    except CoordinatorUnreachable as e:
        output.fail(e)
    from trmrl_jax.distributed import is_primary

    if not is_primary():
        return
    import json
    import os

    with open(os.path.join(cfg.workdir, "eval.json")) as f:
        results = json.load(f)
    if logger:
        logger.finish(results)
    output.print_meta_test(results)
    print(f"results in {cfg.workdir}/eval.json and {cfg.workdir}/adaptation.png")


def run() -> None:
    """The ``trmrl-train`` command and ``python -m experiments.train``."""
    cli.run_app(main, __name__)


if __name__ == "__main__":
    run()
