"""Train a meta-RL agent, then meta-test it.

    python -m experiments.train --preset=quickstart
    python -m experiments.train --env=halfcheetah_vel --agent=trmrl --total_env_steps=2000000 \
        --workdir=runs/hc

Writes config.json, metrics.jsonl, tensorboard/, checkpoints/ (orbax, whole train state),
eval.json and adaptation.png into --workdir; resumes when the workdir holds a checkpoint.

Exit status: 0 done; 2 input refused or training diverged (one line on stderr); 75 stopped by
SIGTERM or SIGINT after checkpointing (the same command continues the run).
"""

from __future__ import annotations

from absl import app

from experiments import flags as cli


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
    cli.start_process()
    from trmrl_jax.config import ConfigError, validate
    from trmrl_jax.distributed import initialize
    from trmrl_jax.loop import TrainingDiverged, TrainingStopped, check_workdir
    from trmrl_jax.train import make_mesh, train

    try:
        cfg = cli.config_from_flags()
        validate(cfg)  # Before printing: a refused config prints only its one-line error.
        initialize(cfg)  # Joins the other processes: the devices and the platform are known.
        validate(cfg, make_mesh(cfg.num_devices).size)
        check_workdir(cfg)
        cli.use_compilation_cache()
        cli.print_config(cfg)
        train(cfg)
    except TrainingStopped as e:
        cli.stopped(e)
    except (ConfigError, TrainingDiverged) as e:
        cli.fail(e)
    except RuntimeError as e:  # E.g. the coordinator never answered.
        if "coordinator" not in str(e):
            raise
        cli.fail(e)
    from trmrl_jax.distributed import is_primary

    if not is_primary():
        return
    import json
    import os

    with open(os.path.join(cfg.workdir, "eval.json")) as f:
        cli.print_meta_test(json.load(f))
    print(f"results in {cfg.workdir}/eval.json and {cfg.workdir}/adaptation.png")


if __name__ == "__main__":
    cli.define_config_flags()
    app.run(main)
