"""Agent networks: T-Fixup initialisers, the no-LayerNorm encoder, TrMRL and baselines."""

from trmrl_jax.networks.agents import Agent, make_agent, working_memory
from trmrl_jax.networks.heads import PolicyOutput

__all__ = ["Agent", "PolicyOutput", "make_agent", "working_memory"]
