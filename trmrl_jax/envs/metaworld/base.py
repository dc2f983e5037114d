"""What every Meta-World v3 task shares: its tasks, the 39-D observation, reset and step.

Tasks (``metaworld.ML1``): a task is one ``rand_vec`` drawn uniformly from the environment's
``_random_reset_space`` (object and goal positions). ML1 fixes 50 train tasks (numpy seed s)
and 50 test tasks (seed s + 1) of the same distribution and reports on the held-out 50; so here,
at construction, 50 train and 50 test vectors are drawn from the environment's ranges (with its
rejection rule) by numpy generators seeded ``seed`` and ``seed + 1``, and ``sample_task`` picks
one of its split's 50 uniformly. The draws are not Meta-World's own (its stream runs through
its resets), the distribution and the protocol are. No task lies outside the ranges: no OOD.

Observation (``SawyerXYZEnv._get_obs``): hand position (3), gripper opening (1: the distance of
the two claws / 0.1, clipped to [0, 1]), object poses (14: position and scipy-ordered (x, y, z,
w) quaternion per object, zero-padded), the same 18 of the previous step, and the goal (3),
zeros in the ML benchmarks (``partially_observable``). A step clips it to Meta-World's
observation box, the reset does not. The previous frame is the previous observation's first 18
entries: Meta-World keeps the unclipped ones, which are the same as long as the hand stays in
its box, and the mocap box lies inside it.

Reset: Meta-World's reset of a task is deterministic (the settled hand, then the task's
placements): every episode of a trial starts from the same state, as there.
"""

from __future__ import annotations

import abc
import copy
from types import MappingProxyType

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from brax.envs.base import State

from trmrl_jax.envs.base import Task, TaskDistribution
from trmrl_jax.physics import sawyer

NUM_TASKS = 50  # Per split, as metaworld._N_GOALS.
HAND_INIT = (0.0, 0.6, 0.2)  # Most tasks' hand_init_pos.
_OBJECTS_SIZE = 14
_HAND_LOW, _HAND_HIGH = (-0.525, 0.348, -0.0525), (0.525, 1.025, 0.7)  # _HAND_SPACE.
_FRAME_LOW = np.array(_HAND_LOW + (-1.0,) + (-np.inf,) * _OBJECTS_SIZE, np.float32)
_FRAME_HIGH = np.array(_HAND_HIGH + (1.0,) + (np.inf,) * _OBJECTS_SIZE, np.float32)
OBS_LOW = np.concatenate([_FRAME_LOW, _FRAME_LOW, np.zeros(3, np.float32)])
OBS_HIGH = np.concatenate([_FRAME_HIGH, _FRAME_HIGH, np.zeros(3, np.float32)])


def quat_from_xmat(xmat: jax.Array) -> jax.Array:
    """[3, 3] rotation -> [4] (x, y, z, w) quaternion as scipy's ``Rotation.from_matrix(...)
    .as_quat()`` returns it (Meta-World's object quaternions): the largest of the diagonal and
    the trace picks the component computed first, so that component is positive."""
    trace = jnp.trace(xmat)
    candidates = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        q = [0.0] * 4
        q[i] = 1.0 - trace + 2.0 * xmat[i, i]
        q[j] = xmat[j, i] + xmat[i, j]
        q[k] = xmat[k, i] + xmat[i, k]
        q[3] = xmat[k, j] - xmat[j, k]
        candidates.append(jnp.stack(q))
    candidates.append(jnp.stack([xmat[2, 1] - xmat[1, 2], xmat[0, 2] - xmat[2, 0],
                                 xmat[1, 0] - xmat[0, 1], 1.0 + trace]))
    choice = jnp.argmax(jnp.stack([xmat[0, 0], xmat[1, 1], xmat[2, 2], trace]))
    q = jnp.stack(candidates)[choice]
    return q / jnp.linalg.norm(q)


def tcp(frame: sawyer.Frame) -> jax.Array:
    """[3] the centre of the scene's first two sites, the fingertips
    (``SawyerXYZEnv.tcp_center``)."""
    return jnp.mean(frame.site_xpos[:2], axis=0)


def free_quat(qpos: jax.Array, joint: int) -> jax.Array:
    """[4] MuJoCo's (w, x, y, z) ``xquat`` of a body on the free joint whose qpos starts at
    ``joint`` (and whose own frame is the joint's): the joint's quaternion, normalised."""
    q = qpos[joint + 3:joint + 7]
    return q / jnp.linalg.norm(q)


def xmat_from_quat(q: jax.Array) -> jax.Array:
    """[4] unit (w, x, y, z) quaternion -> [3, 3] rotation (MuJoCo's ``mju_quat2Mat``)."""
    w, x, y, z = q
    return jnp.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                      [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                      [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def apart(rand_vec: np.ndarray, distance: float) -> bool:
    """Whether a (object x, y, z, goal x, y, z) rand_vec's two points lie ``distance`` or more
    apart in the plane (the rule by which several ``reset_model``s redraw)."""
    return bool(np.linalg.norm(rand_vec[:2] - rand_vec[3:5]) >= distance)


class MetaWorldTask(TaskDistribution):
    """One Meta-World v3 environment's tasks (ML1): ``seed`` draws the train and test tasks,
    ``worlds`` is the most environments one vmapped call steps (``sawyer.make``); backend None:
    ``sawyer.default_backend()``.

    Subclasses set ``scene`` (whose first bodies are hand, rightclaw, leftclaw, and whose
    first sites the fingertips rightEndEffector, leftEndEffector), ``rand_low``/``rand_high`` (the
    ``rand_vec`` box), and define ``placed`` (the scene's joint placements of a task),
    ``goal``, ``objects`` (object poses) and ``evaluate`` (Meta-World's reward and success);
    ``bodies`` where the scene places bodies, ``accept`` where Meta-World redraws some vectors.
    ``init_tcp`` [3]: the fingertips' centre after the hand's reset (``SawyerXYZEnv.init_tcp``,
    float32), which caging rewards read: the scene's, that of every episode whose hand's reset
    does not depend on the task. Where it does (on the C engine, a scene that settles per
    episode), Meta-World's differs per task: ``evaluate``'s task then carries the episode's
    own as ``task["init_tcp"]`` (``SawyerState.init_tcp``; ``with_init_tcp``).
    """

    scene: sawyer.Scene
    rand_low: tuple[float, ...]
    rand_high: tuple[float, ...]
    observation_size = 39
    action_size = 4
    default_episode_length = 500  # SawyerXYZEnv.max_path_length.
    has_ood = False
    backends = sawyer.BACKENDS
    reports = ("success", "fault")
    # What ``--env=ml1_*`` (and ML10/ML45) trains with: the reference's Meta-World policy (std
    # 1.0, output gain 0.01, gamma 0.9, lambda 0.95) under our locomotion PPO settings (rates,
    # epochs, clip at 10, rewards of up to 10 per step scaled by 0.1), with 16 trials of 2
    # episodes per update (16,000 env steps) so that a CPU budget of 2M env steps is 125 updates;
    # the meta-test on all 50 of ML1's held-out tasks.
    training_defaults = MappingProxyType(dict(
        episodes_per_trial=2, num_tasks=16, window=20, init_std=1.0, policy_out_gain=0.01,
        gamma=0.9, gae_lambda=0.95, learning_rate=3e-4, value_learning_rate=1e-3,
        reward_scale=0.1, max_grad_norm=10.0, gru_size=160, total_env_steps=2_000_000,
        eval_tasks=50))

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        self.backend = backend or sawyer.default_backend()
        self.physics = sawyer.make(self.scene, self.backend, worlds)
        self.worlds = self.physics.worlds
        self.task_size = len(self.rand_low)
        self.init_tcp = jnp.asarray(self.physics.init_tcp)
        self.tasks = {split: jnp.asarray(self.draw_tasks(np.random.default_rng(seed + i)))
                      for i, split in enumerate(("train", "test"))}

    @property
    def mujoco_model(self) -> mujoco.MjModel:
        """The scene's model: what ``visualize.render_trial`` draws ``SawyerState.q`` with."""
        return self.physics.mujoco_model

    @property
    def dt(self) -> float:
        return self.physics.dt

    def settled_site(self, site: str, body: str | None = None) -> np.ndarray:
        """[3] float64: where ``site`` lies after the hand's reset (the model's own placements),
        from the frame origin of ``body`` where given: a fixed site of an unrotated placed
        body lies at the task's place plus that offset."""
        m, settled = self.physics.mujoco_model, self.physics.settled
        where = settled.site_xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, site)].copy()
        if body is not None:
            where -= settled.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, body)]
        return where

    def settled_quat(self, body: str) -> jax.Array:
        """[4] float32: ``body``'s MuJoCo (w, x, y, z) ``xquat`` after the hand's reset: the
        observed quaternion of a body that no joint turns, the same in every state."""
        m = self.physics.mujoco_model
        body_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, body)
        return jnp.asarray(self.physics.settled.xquat[body_id], jnp.float32)

    def accept(self, rand_vec: np.ndarray) -> bool:
        """Whether Meta-World's ``reset_model`` keeps ``rand_vec`` (it redraws otherwise)."""
        del rand_vec
        return True

    def draw_tasks(self, rng: np.random.Generator) -> np.ndarray:
        """[NUM_TASKS, task_size] rand_vecs uniform in the box that ``accept`` keeps."""
        tasks = []
        while len(tasks) < NUM_TASKS:
            rand_vec = rng.uniform(self.rand_low, self.rand_high)
            if self.accept(rand_vec):
                tasks.append(rand_vec)
        return np.stack(tasks).astype(np.float32)

    def sample_task(self, key: jax.Array, split: str) -> Task:
        tasks = self.tasks["train" if split == "train" else "test"]  # ood: no such tasks.
        return {"rand_vec": tasks[jax.random.randint(key, (), 0, NUM_TASKS)]}

    def task_features(self, task: Task) -> jax.Array:
        return task["rand_vec"]

    @abc.abstractmethod
    def placed(self, task: Task) -> jax.Array:
        """[len(scene.placed_qpos)] the qpos entries ``task`` sets at reset."""

    def bodies(self, task: Task) -> jax.Array:
        """[len(scene.placed_bodies), 3] where ``task`` places the scene's placed bodies (less
        ``scene.body_offsets``)."""
        del task
        return jnp.zeros((0, 3))

    @abc.abstractmethod
    def goal(self, task: Task) -> jax.Array:
        """[3] where ``task``'s goal lies (``_target_pos``; Meta-World draws its ``goal`` site
        there)."""

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """Sites of the model to draw at ``task``'s places [3] (``cli.visualize``): the
        ``goal`` marker, a site of the world, at ``goal``."""
        return {"goal": self.goal(task)}

    @abc.abstractmethod
    def objects(self, frame: sawyer.Frame) -> jax.Array:
        """[<= 14] the objects' positions and quaternions (Meta-World's order)."""

    @abc.abstractmethod
    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        """(reward, success) of the step that reached ``frame`` and observed ``obs`` [39]
        (clipped, as Meta-World's ``evaluate_state`` reads it) after ``action`` [4]; ``task``
        with the episode's ``init_tcp`` (``with_init_tcp``)."""

    def current(self, frame: sawyer.Frame) -> jax.Array:
        """[18] this step's half of the observation (``_get_curr_obs_combined_no_goal``)."""
        hand, right, left = frame.xpos[0], frame.xpos[1], frame.xpos[2]
        gripper = jnp.clip(jnp.linalg.norm(right - left) / 0.1, 0.0, 1.0)
        objects = self.objects(frame)
        padded = jnp.zeros(_OBJECTS_SIZE).at[:objects.shape[0]].set(objects)
        return jnp.concatenate([hand, gripper[None], padded])

    def first_observation(self, frame: sawyer.Frame) -> jax.Array:
        """[39] a reset's observation: this frame's half twice (unclipped, as there)."""
        current = self.current(frame)
        return jnp.concatenate([current, current, jnp.zeros(3)])

    def outcome(self, frame: sawyer.Frame, previous: jax.Array, action: jax.Array, task: Task
                ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(observation [39], reward, success) of the step that reached ``frame`` from the
        observation ``previous`` [39] under the clipped ``action`` [4]; ``task`` as
        ``evaluate`` reads it (``with_init_tcp``)."""
        obs = jnp.concatenate([self.current(frame), previous[:18], jnp.zeros(3)])
        obs = jnp.clip(obs, OBS_LOW, OBS_HIGH)
        return (obs, *self.evaluate(obs, frame, action, task))

    def reset(self, key: jax.Array, task: Task) -> State:
        del key  # Meta-World's reset of a task is deterministic.
        sim = self.physics.start(self.placed(task), self.bodies(task), self.physics.model)
        return reset_state(sim, self.first_observation(sim.frame))

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        action = jnp.clip(action, -1.0, 1.0)
        sim = self.physics.step(state.pipeline_state, action, self.physics.model)
        return step_state(state, sim, *self.outcome(sim.frame, state.obs, action,
                                                     with_init_tcp(task, sim)))


class PlacedBodyTask(MetaWorldTask):
    """A task whose rand_vec [3] is where the scene's one placed body, a fixture (dial, lever,
    window, door, drawer, faucet, box), stands, no joint placed; its goal lies ``goal_offset``
    [3] from it (a class's constant, or a float32 array of the scene's sites, set at
    construction)."""

    goal_offset: tuple[float, float, float] | jax.Array

    def placed(self, task: Task) -> jax.Array:
        del task
        return jnp.zeros(0)

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"] + jnp.asarray(self.goal_offset)


def with_init_tcp(task: Task, sim: sawyer.SawyerState) -> Task:
    """``task`` as ``evaluate`` reads it: with ``init_tcp`` [3], its episode's
    (``SawyerState.init_tcp``: Meta-World re-reads ``init_tcp`` at every reset, at the end of
    ``_reset_hand``, before the task's placements)."""
    return {**task, "init_tcp": sim.init_tcp}


def reset_state(sim: sawyer.SawyerState, obs: jax.Array) -> State:
    """The ``State`` of an episode's start at ``sim`` observing ``obs`` [39]."""
    zero = jnp.zeros(())
    return State(pipeline_state=sim, obs=obs, reward=zero, done=zero,
                 metrics={"success": zero, "fault": sim.fault.astype(jnp.float32)})


def step_state(state: State, sim: sawyer.SawyerState, obs: jax.Array, reward: jax.Array,
               success: jax.Array) -> State:
    """``state`` after a step to ``sim`` with its observation [39], reward and success; a fault:
    the simulator's, or an observation that is not finite."""
    fault = (sim.fault > 0) | ~jnp.all(jnp.isfinite(obs))
    return state.replace(pipeline_state=sim, obs=obs, reward=reward, done=jnp.zeros(()),
                         metrics={"success": success.astype(jnp.float32),
                                  "fault": fault.astype(jnp.float32)})


def forward_site(dist: MetaWorldTask, site: str, body: str) -> np.ndarray:
    """[3] float64: where ``site`` lies from ``body``'s frame origin once the settled state (its
    ``Scene.fixed_qpos`` set) has gone through a forward pass: a site on a joint that a reset
    sets (``_set_obj_xyz``), read after its ``set_state`` (``settled_site`` reads the hand's
    last frame)."""
    m = dist.mujoco_model
    d = copy.copy(dist.physics.settled)
    mujoco.mj_forward(m, d)
    return (d.site_xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, site)]
            - d.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, body)])
