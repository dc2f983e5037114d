"""Physics faults: a distribution that ``reports`` a ``fault`` flag (MuJoCo's C engine: a
warning; the Sawyer scenes on Warp: a buffer overflow, a non-finite state) flagged a step as
wrong. Training and the meta-test stop there, before they write anything computed from it.
"""

from __future__ import annotations

from trmrl_jax.envs import TaskDistribution


class PhysicsFault(RuntimeError):
    """A step of the physics went wrong; nothing computed from it was written."""


def fault_message(env: TaskDistribution, where: str, trial: int, trials: int, step: int,
                  episode_length: int, worlds: int) -> str:
    """One line: ``where`` (e.g. ``at update 3 ... for seed 0``), the trial (its index in the
    batch of ``trials``) and its first faulty step (0-based ``step`` of the trial), and for a
    distribution sized for a batch (``env.worlds``) the sizes for ``worlds``, the worlds one call
    of the run steps."""
    episode, at = divmod(step, episode_length)
    line = (f"physics fault {where}: trial {trial} of {trials}, step {step + 1} of the trial "
            f"(episode {episode + 1}, step {at + 1}) hit a MuJoCo warning, a buffer overflow or "
            "a non-finite state")
    if env.worlds is None:
        return line
    if worlds > env.worlds:
        return (f"{line}; {env.backend}'s buffers are sized for {env.worlds} worlds per call and "
                f"this call steps {worlds}: build it with make(..., worlds={worlds})")
    return (f"{line}; {env.backend}'s buffers are sized for the {env.worlds} worlds per call "
            "this run steps, so a world needed more than its share: raise the per-world sizes "
            "(physics.sawyer.mjx_warp's NACON_PER_WORLD and njmax, e.g. twice them)")
