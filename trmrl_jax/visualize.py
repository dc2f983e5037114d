"""Pictures of what a trained agent does in one meta-test trial, and where its attention goes.

``record_trial`` runs one trial of one task exactly as the meta-test acts (mean actions, memory
kept across episodes) and keeps every step: observations, actions, rewards, the environment's
metrics and, for TrMRL, each layer's attention weights (sown by ``EncoderLayer`` into Flax's
``intermediates`` collection, so the pictures come from the very parameters and code that act).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.api import Policy
from trmrl_jax.envs import Task, TrialEnv
from trmrl_jax.plots import pyplot
from trmrl_jax.rollout import carry_keys, episode_returns, trial_scan
from trmrl_jax.step import with_matmul_precision


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One trial of T = episodes * episode_length steps of one task (NumPy arrays)."""

    obs: np.ndarray  # [T, obs_size] what the agent saw before acting.
    next_obs: np.ndarray  # [T, obs_size] the observation after the step.
    action: np.ndarray  # [T, action_size] in [-1, 1].
    reward: np.ndarray  # [T]
    metrics: dict[str, np.ndarray]  # The environment's per-step metrics, each [T].
    task: dict[str, np.ndarray]
    # Per layer: [heads, T, T], row t = the weights of step t's query over the trial's steps
    # (zero outside its window); empty for agents without attention.
    attention: list[np.ndarray]
    episode_length: int
    # [T, q_size] the physics' generalized positions after each step (locomotion and Meta-World
    # distributions, on any backend; None without physics).
    qpos: np.ndarray | None = None

    @property
    def episodes(self) -> int:
        return self.reward.shape[0] // self.episode_length

    def episode_returns(self) -> np.ndarray:
        """[episodes] undiscounted return of each episode."""
        return np.asarray(episode_returns(self.reward[None], self.episode_length)[0])


def record_trial(policy: Policy, task: Task, key: jax.Array, episodes: int) -> TrialRecord:
    """Runs one trial of ``task`` (unbatched task pytree) with ``policy`` for ``episodes``
    episodes, through the meta-test's own trial scan. ``key`` is the trial's key, as
    ``rollout`` splits it for a reset."""
    cfg, learner, params = policy.config, policy.learner, policy.params
    trial = TrialEnv(policy.env, cfg.episode_length, episodes, cfg.reset_memory_each_episode)

    def act(carry, obs, _):
        carry, out, sown = learner.act_recorded(params, carry, obs)
        attention = {name: layer["attention"][0][:, ..., -1, :] if cfg.attention == "window"
                     else layer["attention"][0]  # [B, heads, N] over the window's slots.
                     for name, layer in sown.items()}
        return carry, jnp.clip(out.policy.mode(), -1.0, 1.0), attention

    def seen(ts):
        physics = ts.env_state.pipeline_state
        return ts.env_state.obs, ts.env_state.metrics, None if physics is None else physics.q

    def run(task, key):
        ts = jax.vmap(trial.reset)(jax.random.split(key)[:1], jax.tree.map(lambda x: x[None], task))
        carry = learner.initial_carry(1, carry_keys(key[None]))  # As ``rollout`` starts it.
        _, steps = trial_scan(trial, act, carry, ts,
                              end_episode=lambda c, o: learner.end_episode(params, c, o),
                              record=seen)
        return jax.tree.map(lambda x: x[0], steps)  # The one trial: [T, ...].

    steps = jax.device_get(jax.jit(with_matmul_precision(run, cfg.matmul_precision))(task, key))
    next_obs, metrics, qpos = steps.record
    return TrialRecord(
        obs=steps.obs.obs, next_obs=next_obs, action=steps.action, reward=steps.reward,
        metrics=dict(metrics), task={k: np.asarray(v) for k, v in jax.device_get(task).items()},
        attention=[_over_trial(steps.aux[name], cfg.window, cfg.attention)
                   for name in sorted(steps.aux, key=lambda n: int(n.rsplit("_", 1)[1]))],
        episode_length=cfg.episode_length, qpos=qpos)


def _over_trial(slots: np.ndarray, window: int, mode: str) -> np.ndarray:
    """[T, heads, N] weights over a step's window slots -> [heads, T, T] over trial steps."""
    length, heads, _ = slots.shape
    out = np.zeros((heads, length, length), np.float32)
    for t in range(length):
        j = np.arange(window)
        # Sliding: slot j of the KV cache holds step t - (t - j) % N; window: slot j, step
        # t - (N - 1) + j (the window ends at t).
        pos = t - (t - j) % window if mode == "sliding" else t - (window - 1) + j
        keep = pos >= 0
        out[:, t, pos[keep]] = slots[t][:, keep]
    return out


def _episode_lines(ax: Any, record: TrialRecord, axis: str = "x", **style: Any) -> None:
    for e in range(1, record.episodes):
        boundary = e * record.episode_length - 0.5
        (ax.axvline if axis == "x" else ax.axhline)(boundary, **style)


def plot_attention(record: TrialRecord, path: str, title: str = "") -> None:
    """One image per layer (rows) and head (columns): step t's attention (row) over the steps
    of the trial (columns), episode boundaries dashed; the reward of every step underneath, on
    the same time axis, shows whether later episodes look back at earlier rewarding steps."""
    plt = pyplot()
    from matplotlib.colors import PowerNorm

    layers, heads = len(record.attention), record.attention[0].shape[0]
    fig = plt.figure(figsize=(2.6 * heads + 0.6, 2.6 * layers + 1.4))
    grid = fig.add_gridspec(layers + 1, heads, height_ratios=[1] * layers + [0.45])
    length = record.reward.shape[0]
    for layer, weights in enumerate(record.attention):
        for head in range(heads):
            ax = fig.add_subplot(grid[layer, head])
            ax.imshow(weights[head], cmap="magma", norm=PowerNorm(0.5, 0.0, 1.0),
                      interpolation="nearest", extent=(-0.5, length - 0.5, length - 0.5, -0.5))
            _episode_lines(ax, record, "x", color="w", lw=0.6, ls="--")
            _episode_lines(ax, record, "y", color="w", lw=0.6, ls="--")
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
            ax.tick_params(labelsize=7)
            if head == 0:
                ax.set_ylabel("step (query)", fontsize=8)
    ax = fig.add_subplot(grid[layers, :])
    ax.plot(np.arange(length), record.reward, lw=1.0)
    _episode_lines(ax, record, "x", color="gray", lw=0.6, ls="--")
    ax.set(xlim=(-0.5, length - 0.5), xlabel="step of the trial (key)", ylabel="reward")
    ax.grid(alpha=0.3)
    fig.suptitle(title or "attention over the trial")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_point_nav(records: Mapping[str, TrialRecord], path: str, title: str = "") -> None:
    """point_nav: the path of every episode from the origin, the goal, the training arc
    (radius 1) and the out-of-distribution annulus (radii 1.25-1.5), as ``PointNav`` draws
    them. One panel per record (e.g. a test task and an OOD task)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(records), figsize=(5.6 * len(records), 3.4), squeeze=False)
    angle = np.linspace(0.0, np.pi, 100)
    for ax, (label, record) in zip(axes[0], records.items()):
        ax.fill(np.concatenate([1.25 * np.cos(angle), 1.5 * np.cos(angle[::-1])]),
                np.concatenate([1.25 * np.sin(angle), 1.5 * np.sin(angle[::-1])]),
                color="orange", alpha=0.15, label="OOD goals")
        ax.plot(np.cos(angle), np.sin(angle), color="gray", lw=1.0, label="training goals")
        colors = plt.cm.viridis(np.linspace(0.0, 0.9, record.episodes))
        returns = record.episode_returns()
        for e in range(record.episodes):
            span = slice(e * record.episode_length, (e + 1) * record.episode_length)
            xy = np.concatenate([record.obs[span][:1], record.next_obs[span]])
            ax.plot(xy[:, 0], xy[:, 1], color=colors[e], marker=".", ms=3, lw=1.2,
                    label=f"episode {e + 1}: {returns[e]:.1f}")
        goal = record.task["goal"]
        ax.plot(goal[0], goal[1], marker="*", ms=14, color="red", ls="", label="goal")
        ax.set(title=label, aspect="equal", xlim=(-1.6, 1.6), ylim=(-0.4, 1.6))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title or "point_nav: paths per episode")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_velocity(records: Mapping[str, TrialRecord], path: str, title: str = "") -> None:
    """Locomotion: forward velocity at every step against the task's target velocity (or, for
    a direction task, the sign to run in), episode boundaries dashed. One panel per record."""
    plt = pyplot()
    fig, axes = plt.subplots(len(records), 1, figsize=(8, 2.6 * len(records)), squeeze=False)
    for ax, (label, record) in zip(axes[:, 0], records.items()):
        velocity = record.metrics["x_velocity"]
        ax.plot(np.arange(len(velocity)), velocity, lw=1.0, label="x velocity")
        if "velocity" in record.task:
            ax.axhline(float(record.task["velocity"]), color="red", lw=1.0, label="target")
        elif "direction" in record.task:
            ax.axhline(0.0, color="gray", lw=0.8)
            label += f" (direction {float(record.task['direction']):+.0f})"
        _episode_lines(ax, record, "x", color="gray", lw=0.6, ls="--")
        returns = ", ".join(f"{r:.1f}" for r in record.episode_returns())
        ax.set(title=f"{label}; returns per episode: {returns}", xlabel="step of the trial",
               ylabel="m/s")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or "velocity against target")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class RenderError(RuntimeError):
    """No OpenGL context could be made for MuJoCo's renderer."""


@dataclasses.dataclass(frozen=True)
class Camera:
    """MuJoCo's free camera: ``distance`` metres from ``lookat`` (None: follow body 1, the
    torso of a locomotion body), ``elevation`` and ``azimuth`` in degrees."""

    distance: float = 4.0
    elevation: float = -20.0
    azimuth: float = 90.0
    lookat: tuple[float, float, float] | None = None


# From the robot's right front, over the table where Meta-World's objects and goals lie.
SAWYER_CAMERA = Camera(distance=0.9, elevation=-25.0, azimuth=145.0, lookat=(0.0, 0.72, 0.12))


def _label(task: Mapping[str, np.ndarray]) -> str:
    """``task``'s parameters of up to 6 numbers, e.g. ``velocity +1.50`` or ``rand_vec +0.03
    +0.65 ...`` (Meta-World's object and goal positions)."""
    return ", ".join(f"{k} " + " ".join(f"{float(x):+.2f}" for x in np.ravel(v))
                     for k, v in task.items() if np.size(v) <= 6)


def render_trial(record: TrialRecord, model: Any, dt: float, path: str, *, frame_every: int = 2,
                 width: int = 320, height: int = 240, camera: Camera = Camera(),
                 sites: Mapping[str, np.ndarray] | None = None,
                 bodies: Mapping[str, np.ndarray] | None = None) -> int:
    """Writes the trial as an animated GIF that a person can watch: MuJoCo draws the recorded
    positions (``record.qpos``) of ``model`` (a distribution's ``mujoco_model``) through
    ``camera``; every frame is labelled with the episode, the step, the task and the return so
    far (and the step's success where the distribution reports one). ``sites``: positions [3]
    of named sites to draw, e.g. Meta-World's ``goal`` marker, and ``bodies``: positions [3]
    (``body_pos``) of named bodies, e.g. where a Meta-World task placed its door (both set in
    ``model`` while drawing, restored after). One frame per ``frame_every`` steps, played in
    real time (``dt``: seconds of simulation per step, the distribution's ``dt``).

    Needs an OpenGL context: on a machine without a display, ``MUJOCO_GL=egl`` (or ``osmesa``)
    must be set before MuJoCo is first imported (``experiments.visualize`` does so).
    Returns the number of frames written.
    """
    import mujoco
    from PIL import Image, ImageDraw

    if record.qpos is None:
        raise ValueError("the record has no physics positions to draw (not a physics "
                         "distribution)")
    try:
        renderer = mujoco.Renderer(model, height, width)
    except Exception as e:  # The GL back end's own errors vary (glfw, EGL, OSMesa).
        raise RenderError(f"no OpenGL context for MuJoCo ({type(e).__name__}: {e}); set "
                          "MUJOCO_GL=egl or MUJOCO_GL=osmesa before importing brax or mujoco"
                          ) from e
    sites = sites or {}
    site_ids = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, n) for n in sites],
                        np.int64)
    bodies = bodies or {}
    body_ids = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in bodies],
                        np.int64)
    saved, saved_bodies = model.site_pos[site_ids].copy(), model.body_pos[body_ids].copy()
    model.site_pos[site_ids] = np.reshape(list(sites.values()), (-1, 3))
    model.body_pos[body_ids] = np.reshape(list(bodies.values()), (-1, 3))
    data = mujoco.MjData(model)
    free = mujoco.MjvCamera()
    free.type = mujoco.mjtCamera.mjCAMERA_FREE
    free.distance, free.elevation, free.azimuth = (camera.distance, camera.elevation,
                                                   camera.azimuth)
    task = _label(record.task)
    velocity = record.metrics.get("x_velocity")
    success = record.metrics.get("success")
    frames = []
    try:
        for t in range(0, record.reward.shape[0], frame_every):
            data.qpos[:] = record.qpos[t]
            mujoco.mj_forward(model, data)
            free.lookat[:] = data.xpos[1] if camera.lookat is None else camera.lookat
            renderer.update_scene(data, camera=free)
            frame = Image.fromarray(renderer.render())
            episode, step = divmod(t, record.episode_length)
            start = episode * record.episode_length
            lines = [f"episode {episode + 1}/{record.episodes}  step {step + 1}  "
                     f"return {record.reward[start:t + 1].sum():.1f}", f"task: {task}"]
            if velocity is not None:
                lines.append(f"x velocity {velocity[t]:+.2f}")
            if success is not None:
                lines.append(f"success {int(success[t])}")
            ImageDraw.Draw(frame).multiline_text((6, 4), "\n".join(lines), fill=(255, 255, 0))
            frames.append(frame)
    finally:
        renderer.close()
        model.site_pos[site_ids], model.body_pos[body_ids] = saved, saved_bodies
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                   duration=round(1000.0 * frame_every * dt))  # Milliseconds per frame.
    return len(frames)
