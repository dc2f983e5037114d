"""PEARL: off-policy meta-RL with a posterior over a latent task variable (SAC underneath)."""

from trmrl_jax.learners.pearl.learner import PEARL, Belief, TrainState

__all__ = ["Belief", "PEARL", "TrainState"]
