"""Meta-World's reward shaping in JAX, for scalars or arrays: ``tolerance`` (long tail and
gaussian) and ``hamacher_product`` from ``metaworld/utils/reward_utils.py`` (after dm_control's
``rewards.tolerance``), and the gripper's caging reward of ``SawyerXYZEnv._gripper_caging_reward``
(``metaworld/sawyer_xyz_env.py``), whose y term pick-place-v3, sweep-v3 and sweep-into-v3
replace with their own."""

from __future__ import annotations

import jax
import jax.numpy as jnp

_VALUE_AT_MARGIN = 0.1  # tolerance()'s default: the value at ``margin`` outside the bounds.
_CAGED = 0.97  # Caging above which closing the gripper counts.


def _outside(x: jax.Array, bounds: tuple[float, float], margin: jax.Array
             ) -> tuple[jax.Array, jax.Array]:
    """(whether ``x`` lies inside ``bounds``, its distance to the nearest bound / ``margin``)."""
    lower, upper = bounds
    return (lower <= x) & (x <= upper), jnp.where(x < lower, lower - x, x - upper) / margin


def tolerance_long_tail(x: jax.Array, bounds: tuple[float, float], margin: jax.Array
                        ) -> jax.Array:
    """1 inside ``bounds``, else 1 / ((d * s)^2 + 1) with d the distance to the nearest bound
    over ``margin`` and s = sqrt(1 / 0.1 - 1), so the value is 0.1 at ``margin`` (> 0)."""
    inside, d = _outside(x, bounds, margin)
    scale = jnp.sqrt(1.0 / _VALUE_AT_MARGIN - 1.0)
    return jnp.where(inside, 1.0, 1.0 / ((d * scale) ** 2 + 1.0))


def tolerance_gaussian(x: jax.Array, bounds: tuple[float, float], margin: jax.Array
                       ) -> jax.Array:
    """1 inside ``bounds``, else exp(-(d * s)^2 / 2) with d as in ``tolerance_long_tail`` and
    s = sqrt(-2 ln 0.1), so the value is 0.1 at ``margin`` (> 0)."""
    inside, d = _outside(x, bounds, margin)
    scale = jnp.sqrt(-2.0 * jnp.log(_VALUE_AT_MARGIN))
    return jnp.where(inside, 1.0, jnp.exp(-0.5 * (d * scale) ** 2))


def within(distance: jax.Array, radius: float, at_reset: jax.Array, gaussian: bool = False
           ) -> jax.Array:
    """Meta-World's usual reach and in-place term: the tolerance (``tolerance_gaussian`` with
    ``gaussian``, else ``tolerance_long_tail``) of ``distance`` within ``radius``, margin
    | ``at_reset`` (the distance at reset) - radius |."""
    tolerance = tolerance_gaussian if gaussian else tolerance_long_tail
    return tolerance(distance, (0.0, radius), jnp.abs(at_reset - radius))


def hamacher_product(a: jax.Array, b: jax.Array) -> jax.Array:
    """The Hamacher t-norm a b / (a + b - a b) of a, b in [0, 1]; 0 where both are 0."""
    denominator = a + b - a * b
    return jnp.where(denominator > 0, a * b / jnp.where(denominator > 0, denominator, 1.0), 0.0)


def pad_caging_y(pads_y: jax.Array, obj: jax.Array, obj_init: jax.Array, obj_radius: float,
                 pad_success: float) -> jax.Array:
    """``_gripper_caging_reward``'s y term: each pad's (left, right: ``pads_y`` [2]) distance to
    the object in y within (obj_radius, pad_success), its margin | |pad y - the object's
    initial y| - pad_success |; the two combined by ``hamacher_product``."""
    to_obj = jnp.abs(pads_y - obj[1])
    margin = jnp.abs(jnp.abs(pads_y - obj_init[1]) - pad_success)
    caging = tolerance_long_tail(to_obj, (obj_radius, pad_success), margin)
    return hamacher_product(caging[0], caging[1])


def pads_around_y(pads_y: jax.Array, obj: jax.Array, bounds: tuple[float, float],
                  pad_success: float) -> jax.Array:
    """[2] pick-place-v3's, sweep-v3's and sweep-into-v3's own y terms: the left pad's y less
    the object's and the object's less the right pad's (``pads_y`` [2]: left, right), each
    within ``bounds``, margins | |object y - pad y| - pad_success |; each task combines the two
    by ``hamacher_product``. Meta-World means the pads' y at reset in the margins, but its
    ``init_left_pad``/``init_right_pad`` are views of ``data.xpos`` (``get_body_com`` returns
    ``data.body(name).xpos``), so they read the current y."""
    return tolerance_long_tail(jnp.array([pads_y[0] - obj[1], obj[1] - pads_y[1]]), bounds,
                               jnp.abs(jnp.abs(obj[1] - pads_y) - pad_success))


def xz_caging(tcp: jax.Array, obj: jax.Array, obj_init: jax.Array, init_tcp: jax.Array,
              xz_success: float) -> jax.Array:
    """``_gripper_caging_reward``'s x-z term: the centre of the fingertips (``tcp`` [3]) within
    ``xz_success`` of the object in x-z, margin their x-z distance at reset less
    ``xz_success``."""
    xz = jnp.array([0, 2])
    margin = jnp.linalg.norm(obj_init[xz] - init_tcp[xz]) - xz_success
    return tolerance_long_tail(jnp.linalg.norm(tcp[xz] - obj[xz]), (0.0, xz_success), margin)


def caging_and_gripping(caging_y: jax.Array, tcp: jax.Array, obj: jax.Array,
                        obj_init: jax.Array, init_tcp: jax.Array, xz_success: float,
                        grip: jax.Array, high_density: bool = True) -> jax.Array:
    """The rest of ``_gripper_caging_reward``: ``xz_caging`` Hamacher-combined with
    ``caging_y``; the gripper's closing effort ``grip`` (the action's last entry, clipped to
    [0, 1]) counts once caging exceeds 0.97; returns caging-and-gripping, with ``high_density``
    (push-v3, pick-place-v3, basketball-v3, peg-insert-side-v3) its mean with caging."""
    caging = hamacher_product(caging_y, xz_caging(tcp, obj, obj_init, init_tcp, xz_success))
    gripping = jnp.where(caging > _CAGED, jnp.clip(grip, 0.0, 1.0), 0.0)
    grasped = hamacher_product(caging, gripping)
    return (grasped + caging) / 2.0 if high_density else grasped


def gripper_caging(pads_y: jax.Array, tcp: jax.Array, obj: jax.Array, obj_init: jax.Array,
                   init_tcp: jax.Array, obj_radius: float, pad_success: float,
                   xz_success: float, grip: jax.Array, high_density: bool = True) -> jax.Array:
    """``_gripper_caging_reward`` whole, with its own y term: ``caging_and_gripping`` of
    ``pad_caging_y`` (``pads_y`` [2]: left, right)."""
    caging_y = pad_caging_y(pads_y, obj, obj_init, obj_radius, pad_success)
    return caging_and_gripping(caging_y, tcp, obj, obj_init, init_tcp, xz_success, grip,
                               high_density)


def lifted_and_placed(grasped: jax.Array, in_place: jax.Array, lifted: jax.Array
                      ) -> jax.Array:
    """basketball-v3's and peg-insert-side-v3's reward before success: hamacher(grasped,
    in_place), where the object is ``lifted`` (held near the fingertips, the gripper open,
    above its start) grasped counting as 1 and 1 + 5 * in_place added."""
    grasped = jnp.where(lifted, 1.0, grasped)
    return hamacher_product(grasped, in_place) + jnp.where(lifted, 1.0 + 5.0 * in_place, 0.0)


def rect_prism_tolerance(curr: jax.Array, zero: jax.Array, one: jax.Array) -> jax.Array:
    """``reward_utils.rect_prism_tolerance``: inside the box of opposite corners ``zero`` and
    ``one`` (each [3]), the product over axes of ``curr``'s fraction of the way from ``zero``
    to ``one``; 1 outside."""
    inside = jnp.all((jnp.minimum(zero, one) <= curr) & (curr <= jnp.maximum(zero, one)))
    return jnp.where(inside, jnp.prod((curr - zero) / (one - zero)), 1.0)


def pads_caging_and_gripping(pads_y: jax.Array, tcp: jax.Array, obj: jax.Array,
                             obj_init: jax.Array, init_tcp: jax.Array, obj_radius: float,
                             grip_success: float, xz_success: float) -> jax.Array:
    """push-back-v3's, sweep-v3's and sweep-into-v3's own ``_gripper_caging_reward``: caging
    hamacher(the pads around the object in y within (obj_radius, 0.05), ``xz_caging``); once
    it exceeds 0.95, gripping the pads within (obj_radius, ``grip_success``) in y (no gripper
    effort); their mean. ``pads_y`` [2]: left, right."""
    caging_y = pads_around_y(pads_y, obj, (obj_radius, 0.05), 0.05)
    gripping_y = pads_around_y(pads_y, obj, (obj_radius, grip_success), 0.05)
    caging = hamacher_product(hamacher_product(caging_y[1], caging_y[0]),
                              xz_caging(tcp, obj, obj_init, init_tcp, xz_success))
    gripping = jnp.where(caging > 0.95, hamacher_product(gripping_y[1], gripping_y[0]), 0.0)
    return (caging + gripping) / 2.0


def above_funnel(hand: jax.Array, obj: jax.Array, threshold: float) -> jax.Array:
    """door-open-v3's and box-close-v3's ``_reward_pos`` floor: 1 with the hand (``hand`` [3])
    above a log-shaped funnel around ``obj`` [3] (0 within ``threshold`` in the plane, 0.04
    log(radius - threshold) + 0.4 beyond), else the tolerance of its depth below it within
    0.01, margin half the floor's height."""
    radius = jnp.linalg.norm(hand[:2] - obj[:2])
    beyond = radius > threshold
    floor = jnp.where(beyond, 0.04 * jnp.log(jnp.where(beyond, radius - threshold, 1.0)) + 0.4,
                      0.0)
    return jnp.where(hand[2] >= floor, 1.0,
                     tolerance_long_tail(floor - hand[2], (0.0, 0.01), floor / 2.0))


def reach_density(grasped: jax.Array, tcp: jax.Array, obj: jax.Array, obj_init: jax.Array,
                  init_tcp: jax.Array, reach_radius: float) -> jax.Array:
    """``_gripper_caging_reward``'s medium density (assembly-v3): the mean of ``grasped``
    (``caging_and_gripping`` without high density) and the tolerance of |obj - tcp| (each [3])
    within ``reach_radius``, margin | |obj_init - init_tcp| - reach_radius |."""
    reach = within(jnp.linalg.norm(obj - tcp), reach_radius, jnp.linalg.norm(obj_init - init_tcp))
    return (grasped + reach) / 2.0
