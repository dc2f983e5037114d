"""Meta-World mixtures (``envs.metaworld.mixture``, ``physics.sawyer.mixture``): a mixed batch is
each environment's own ML1 distribution, world by world; the splits draw their environments'
tasks; ML10 and ML45 are Meta-World's lists, registered once all are ported.

World by world against the environment alone, same tasks and actions, two episodes of 25 steps
(random actions; the reach worlds steer to their goals, 18 steps succeed): the C engine's state
(raw bits), observations, success and fault are identical; rewards differ by float32 rounding
in a few steps (reach-v3: 14% of them, by up to 9.5e-7, one ulp at rewards near 10;
drawer-close-v3: 5%, up to 1.5e-7; push-v3 and door-open-v3 exact). The physics and the
observations are the same numbers; the reward arithmetic is compiled into another XLA program
(every environment's branch under vmap, then a select) that rounds differently in the last bit
(its pieces alone, norms and tolerances, compile to the same bits: not isolated further). The
bound is 2.5e-6 absolute (``_REWARD_ATOL``), under 3 ulps at 10.

The mixture here: train on reach-v3, push-v3 and door-open-v3, hold out drawer-close-v3 (scenes
of different state sizes, placed bodies or none, a scene that settles per episode)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax import envs
from trmrl_jax.envs import metaworld
from trmrl_jax.envs.metaworld import ML1DoorOpen, ML1DrawerClose, ML1Push, ML1Reach, mixture
from trmrl_jax.envs.metaworld.stick import ML1StickPush
from trmrl_jax.physics.sawyer.mixture import NativeMixture
from trmrl_jax.physics.sawyer.mujoco_c import Native

NAMES = ("ml1_reach", "ml1_push", "ml1_door_open", "ml1_drawer_close")  # The mixture's order.
_STEPS = 25  # Per episode; two episodes.
_REWARD_ATOL = 2.5e-6  # Float32 rounding of rewards up to 10 (module docstring).


@pytest.fixture(scope="module")
def mixed():
    return mixture((ML1Reach, ML1Push, ML1DoorOpen), (ML1DrawerClose,))()


def rollout(dist, tasks, actions):
    """Two episodes of ``actions`` [2 * _STEPS, batch, 4] on ``tasks`` (batched), each from a
    reset -> per step (obs, reward, success, fault, state bits), reset observations first."""
    reset = jax.vmap(lambda task: dist.reset(jax.random.PRNGKey(0), task))
    step = jax.vmap(dist.step)

    def record(state):
        return (state.obs, state.reward, state.metrics["success"], state.metrics["fault"],
                state.pipeline_state.sim)

    def episode(acts):
        first = reset(tasks)
        _, out = jax.lax.scan(lambda s, a: (step(s, a, tasks),) * 2, first, acts)
        return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), record(first),
                            record(out))

    return jax.tree.map(lambda *x: jnp.concatenate(x), *map(episode, jnp.split(actions, 2)))


def test_a_mixed_batch_is_each_environment_alone_its_state_bit_for_bit(mixed, c_engine):
    classes = np.array([0, 1, 2, 3, 3, 2, 1, 0])
    rows = np.array([0, 5, 7, 3, 11, 2, 9, 4])
    # The reach worlds take the two goals nearest the hand, steer to them in each episode's
    # first 20 steps, then stay: success is visited.
    reach, init = classes == 0, mixed.classes[0].init_tcp
    goals = np.asarray(mixed.tasks["train"][0, :, 3:6])
    rows[reach] = np.argsort(np.linalg.norm(goals - init, axis=1))[:2]
    tasks = {"class": jnp.asarray(classes, jnp.int32),
             "rand_vec": mixed.tasks["train"][classes, rows]}
    actions = np.array(jax.random.uniform(jax.random.PRNGKey(1), (2 * _STEPS, len(classes), 4),
                                          minval=-1.2, maxval=1.2))
    towards = (goals[rows[reach]] - init) / (20 * 0.01)
    for first in (0, _STEPS):
        actions[first:first + _STEPS, reach, :3] = 0.0
        actions[first:first + 20, reach, :3] = towards
    got = jax.tree.map(np.asarray, jax.jit(lambda t, a: rollout(mixed, t, a))(tasks, actions))
    for index, name in enumerate(NAMES):
        dist = c_engine(name)[0]
        worlds = np.flatnonzero(classes == index)
        own = {"rand_vec": dist.tasks["train"][rows[worlds]]}
        want = jax.jit(lambda t, a, d=dist: rollout(d, t, a))(own, actions[:, worlds])
        obs, reward, success, fault, bits = (x[:, worlds] for x in got)
        for g, w in zip((obs, success, fault), (want[0], want[2], want[3])):
            np.testing.assert_array_equal(g, w, err_msg=name)
        np.testing.assert_allclose(reward, want[1], rtol=0, atol=_REWARD_ATOL, err_msg=name)
        n = want[-1].shape[-1]  # The scene's own state, as raw bits; zeros pad it.
        np.testing.assert_array_equal(bits[..., :n], want[-1], err_msg=name)
        assert not bits[..., n:].any()
        assert 0 < n <= bits.shape[-1]
    assert len(set(mixed.physics.nstates)) > 1  # The padding is exercised.
    assert got[2][:, reach].any() and not got[3].any()  # Success is visited; no fault.


def test_ml10s_held_out_environments_mixed_are_each_alone():
    """The ``ood`` worlds of ML10's held-out environments: placed bodies with float64 offsets
    (shelf-place), resets without a forward pass (drawer-open, lever-pull), as alone."""
    held = tuple(metaworld.PORTED[name] for name in metaworld.BENCHMARKS["ml10"][1])
    dist = mixture((ML1Reach,), held)()
    classes = np.tile(np.arange(1, len(held) + 1), 2)
    rows = np.arange(len(classes)) * 3
    tasks = {"class": jnp.asarray(classes, jnp.int32),
             "rand_vec": dist.tasks["train"][classes, rows]}
    actions = jax.random.uniform(jax.random.PRNGKey(3), (2 * _STEPS, len(classes), 4),
                                 minval=-1.0, maxval=1.0)
    got = jax.tree.map(np.asarray, jax.jit(lambda t, a: rollout(dist, t, a))(tasks, actions))
    for index, alone in enumerate(dist.classes[1:], start=1):
        worlds = np.flatnonzero(classes == index)
        own = {"rand_vec": alone.tasks["train"][rows[worlds]]}
        want = jax.jit(lambda t, a, d=alone: rollout(d, t, a))(own, actions[:, worlds])
        obs, reward, success, fault, bits = (x[:, worlds] for x in got)
        for g, w in zip((obs, success, fault), (want[0], want[2], want[3])):
            np.testing.assert_array_equal(g, w, err_msg=type(alone).__name__)
        np.testing.assert_allclose(reward, want[1], rtol=0, atol=_REWARD_ATOL)
        np.testing.assert_array_equal(bits[..., :want[-1].shape[-1]], want[-1])


def test_splits_draw_their_environments_tasks(mixed, c_engine):
    num = 256
    for split, allowed, source in (("train", {0, 1, 2}, "train"), ("test", {0, 1, 2}, "test"),
                                   ("ood", {3}, "train")):
        tasks = jax.tree.map(np.asarray, mixed.sample_tasks(jax.random.PRNGKey(2), num, split))
        assert set(tasks["class"]) == allowed, split
        table = np.asarray(mixed.tasks[source])
        for cls, rand_vec in zip(tasks["class"], tasks["rand_vec"]):
            assert (table[cls] == rand_vec).all(-1).any(), split
        features = jax.vmap(mixed.task_features)(tasks)
        assert features.shape == (num, mixed.task_size)
        np.testing.assert_array_equal(features[:, :4].argmax(-1), tasks["class"])
    for split in ("train", "test"):  # Each environment's own ML1 tasks, zero-padded.
        for index, name in enumerate(NAMES):
            own = np.asarray(c_engine(name)[0].tasks[split])
            np.testing.assert_array_equal(mixed.tasks[split][index, :, :own.shape[1]], own)
            assert not mixed.tasks[split][index, :, own.shape[1]:].any()


def test_a_mixture_runs_on_the_c_engine_and_without_held_out_environments_has_no_ood():
    single = mixture((ML1Reach,), ())
    assert single.backends == ("mujoco_c",) and single.default_episode_length == 500
    with pytest.raises(ValueError, match="mujoco_c only"):
        single(backend="mjx_warp")
    dist = single()
    assert not dist.has_ood
    with pytest.raises(ValueError, match="no ood"):
        dist.sample_task(jax.random.PRNGKey(0), "ood")


def test_ml10_and_ml45_are_metaworlds_and_register_once_ported():
    env_dict = pytest.importorskip("metaworld.env_dict")
    for name, lists in (("ml10", env_dict.ML10_V3), ("ml45", env_dict.ML45_V3)):
        assert metaworld.BENCHMARKS[name] == (tuple(lists["train"]), tuple(lists["test"]))
        assert (name in envs.registered()) == (not metaworld.missing(name))
    assert set(metaworld.PORTED) <= set(env_dict.ALL_V3_ENVIRONMENTS)


def test_a_mixed_world_reports_the_pads_touching_the_stick_as_alone():
    """``Frame.touching`` through the padded frame: stick-push-v3 (whose success reads it) mixed
    with reach-v3 (which reads none) under the scripted policy's grasp of the stick, against
    stick-push-v3 alone: the same state bits, observations, success and contacts."""
    policies = pytest.importorskip("metaworld.policies")
    dist = mixture((ML1Reach,), (ML1StickPush,))()
    alone = dist.classes[1]
    task = {"rand_vec": alone.tasks["train"][0]}
    step, policy, own = jax.jit(alone.step), policies.SawyerStickPushV3Policy(), []
    state = jax.jit(alone.reset)(jax.random.PRNGKey(0), task)
    for _ in range(60):  # The policy's actions, shown the hidden goal.
        shown = np.concatenate([np.asarray(state.obs)[:36], np.asarray(alone.goal(task))])
        own.append(np.clip(policy.get_action(shown), -1.0, 1.0).astype(np.float32))
        state = step(state, jnp.asarray(own[-1]), task)
    actions = np.zeros((len(own), 2, 4), np.float32)
    actions[:, 1] = own

    def run(d, tasks, acts):
        def body(s, a):
            s = jax.vmap(d.step)(s, a, tasks)
            return s, (s.obs, s.metrics["success"], s.pipeline_state.frame.touching,
                       s.pipeline_state.sim)
        first = jax.vmap(lambda t: d.reset(jax.random.PRNGKey(0), t))(tasks)
        return jax.lax.scan(body, first, acts)[1]

    mixed_tasks = {"class": jnp.array([0, 1], jnp.int32),
                   "rand_vec": dist.tasks["train"][jnp.array([0, 1]), 0]}
    obs, success, touching, bits = jax.tree.map(
        np.asarray, jax.jit(lambda: run(dist, mixed_tasks, actions))())
    want = jax.tree.map(np.asarray, jax.jit(lambda: run(
        alone, jax.tree.map(lambda x: x[None], task), actions[:, 1:]))())
    for got, expected in zip((obs[:, 1], success[:, 1], touching[:, 1]), want[:3]):
        np.testing.assert_array_equal(got, expected[:, 0])
    n = want[3].shape[-1]
    np.testing.assert_array_equal(bits[:, 1, :n], want[3][:, 0])
    assert touching.shape[-1] == 1 and not touching[:, 0].any()  # Reach reads no contact.
    assert touching[:, 1].any() and success[:, 1].any()


def test_a_mixed_batch_makes_a_slot_per_scene_and_chunk_not_per_thread():
    """The threads take the worlds in scene order, so stepping K scenes interleaved in a batch
    in T threads makes at most K + T - 1 slots (an ``MjData``, and a model copy where the scene
    places bodies), not K x T; a scene that places no bodies shares its model."""
    threads = 4
    natives = [Native(c.scene, threads=threads) for c in (ML1Reach, ML1Push, ML1DoorOpen)]
    physics = NativeMixture(natives)
    scene = jnp.asarray(np.tile(np.arange(len(natives)), 8), jnp.int32)  # Interleaved.
    placed = jnp.zeros((len(scene), physics.placed_size))
    bodies = jnp.zeros((len(scene), physics.bodies_size, 3))
    state = jax.jit(jax.vmap(physics.start))(scene, placed, bodies)
    jax.jit(jax.vmap(physics.step))(scene, state, jnp.zeros((len(scene), 4)))
    slots = [n.slots.free for n in natives]
    assert len(sum(slots, [])) <= len(natives) + threads - 1, [len(s) for s in slots]
    assert all(m is natives[0].mujoco_model for m, _ in slots[0])  # Reach places no bodies.
    assert all(m is not natives[2].mujoco_model for m, _ in slots[2])  # The door is placed.
