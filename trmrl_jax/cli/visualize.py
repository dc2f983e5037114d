"""Pictures of a trained run: attention maps, and what the agent does in one meta-test trial.

    python -m experiments.visualize --workdir=runs/quickstart --episodes=6

Runs one trial (memory kept over --episodes) of the meta-test's own held-out tasks and writes
into --out (default WORKDIR/pictures): attention.png (TrMRL: each layer's and head's attention
over the trial, episode boundaries, rewards underneath), paths.png (point_nav: the path of every
episode, the goal, the training arc and the OOD annulus) or velocity.png (halfcheetah_vel and
halfcheetah_dir: velocity against the target), for a test task and an OOD task; and, for the
locomotion and Meta-World distributions (any backend), rollout.gif: the test task's trial
rendered by MuJoCo, to watch (Meta-World: over the table, the hidden goal marked).
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from trmrl_jax.cli import flags as cli
from trmrl_jax.cli import output

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run's folder.", required=True)
_OUT = flags.DEFINE_string("out", None, "Folder for the pictures (default: WORKDIR/pictures).")
_EPISODES = flags.DEFINE_integer("episodes", 0, "Episodes of the trial (0: the run's "
                                 "eval_episodes).")
_TASK = flags.DEFINE_integer("task", 0, "Which of the meta-test's held-out tasks (index).")
_SEED = flags.DEFINE_integer("seed", 0, "Which seed of a run of several.")
_RENDER = flags.DEFINE_boolean("render", True, "Distributions with physics: also write "
                               "rollout.gif.")
_FRAME_EVERY = flags.DEFINE_integer("frame_every", 2, "rollout.gif: one frame per this many "
                                    "steps (it plays in real time whatever the value).")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        output.fail(ValueError(f"unexpected arguments {argv[1:]}; all options are --flags"))
    if "DISPLAY" not in os.environ:  # Headless: MuJoCo's renderer draws through EGL.
        os.environ.setdefault("MUJOCO_GL", "egl")  # Read when mujoco is first imported.
    output.start_process()
    import jax

    import trmrl_jax
    from trmrl_jax import visualize
    from trmrl_jax.config import ConfigError
    from trmrl_jax.envs.metaworld import MetaWorldTask
    from trmrl_jax.evaluate import EVAL_SEED

    try:
        if _EPISODES.value < 0 or _TASK.value < 0:
            raise ConfigError("--episodes and --task must be >= 0")
        if _FRAME_EVERY.value <= 0:
            raise ConfigError(f"--frame_every={_FRAME_EVERY.value} must be a positive integer")
        config, policy = trmrl_jax.load(_WORKDIR.value, seed=_SEED.value)
    except ConfigError as e:
        output.fail(e)
    episodes = _EPISODES.value or config.eval_episodes
    # The meta-test's tasks and trial keys (train.evaluate_seeds, evaluate.meta_test, rollout).
    task_key, run_key = jax.random.split(jax.random.PRNGKey(EVAL_SEED))
    num = max(_TASK.value + 1, config.eval_tasks)
    trial_key = jax.random.split(run_key, num)[_TASK.value]
    splits = ("test", "ood") if policy.env.has_ood else ("test",)
    records = {}
    for split in splits:
        task = jax.tree.map(lambda x: x[_TASK.value],
                            policy.env.sample_tasks(task_key, num, split))
        records[f"{split} task {_TASK.value}"] = visualize.record_trial(policy, task, trial_key,
                                                                        episodes)
    out = _OUT.value or os.path.join(_WORKDIR.value, "pictures")
    os.makedirs(out, exist_ok=True)
    title = f"{config.agent} on {config.env}"
    written = []
    first = next(iter(records.values()))
    if first.attention:
        written.append(os.path.join(out, "attention.png"))
        visualize.plot_attention(first, written[-1], f"{title}: {next(iter(records))}")
    if config.env == "point_nav":
        written.append(os.path.join(out, "paths.png"))
        visualize.plot_point_nav(records, written[-1], title)
    elif "x_velocity" in first.metrics and {"velocity", "direction"} & set(first.task):
        written.append(os.path.join(out, "velocity.png"))
        visualize.plot_velocity(records, written[-1], title)
    if _RENDER.value and first.qpos is not None:
        written.append(os.path.join(out, "rollout.gif"))
        view = {}
        if isinstance(policy.env, MetaWorldTask):
            placed = policy.env.physics.body_pos(policy.env.bodies(first.task))
            view = {"camera": visualize.SAWYER_CAMERA,
                    "sites": {name: np.asarray(where) for name, where
                              in policy.env.marker_sites(first.task).items()},
                    "bodies": dict(zip(policy.env.scene.placed_bodies, placed))}
        try:
            visualize.render_trial(first, policy.env.mujoco_model, policy.env.dt, written[-1],
                                   frame_every=_FRAME_EVERY.value, **view)
        except visualize.RenderError as e:
            output.fail(e)
    for label, record in records.items():
        returns = ", ".join(f"{r:.2f}" for r in record.episode_returns())
        print(f"{label}: return per episode {returns}")
    print("pictures: " + ", ".join(written))


def run() -> None:
    """The ``trmrl-visualize`` command and ``python -m experiments.visualize``."""
    cli.run_app(main, __name__, config_flags=False)


if __name__ == "__main__":
    run()
