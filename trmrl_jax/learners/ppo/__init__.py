"""PPO: the learner of TrMRL and of the RL^2, MLP and oracle baselines."""

from trmrl_jax.learners.ppo.learner import PPO, ActingParams, TrainState, example_observation

__all__ = ["PPO", "ActingParams", "TrainState", "example_observation"]
