"""``--help`` explains every Config field from config.py's own documentation."""

import dataclasses
import os
import subprocess
import sys

from trmrl_jax.cli.flags import field_docs
from trmrl_jax.config import AGENTS, Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_field_has_its_own_meaning():
    docs = field_docs()
    for field in dataclasses.fields(Config):
        doc = docs.get(field.name, "")
        assert doc and not doc.startswith("Allowed"), f"Config.{field.name} is undocumented"
        assert "Allowed: " in doc, f"Config.{field.name} has no allowed values"
    # Section headings of config.py ("# Agent.", "# PPO.") are not a field's meaning.
    assert "Agent." not in docs["agent"] and not docs["total_env_steps"].startswith("PPO")
    # A comment above and one at the end of the line are joined; allowed values are appended.
    assert docs["lr_final_fraction"].startswith("Each rate decays from update lr_decay_begin")
    assert "Policy rate at the end of the decay / learning_rate." in docs["lr_final_fraction"]
    assert docs["agent"].endswith(f"Allowed: one of {', '.join(AGENTS)}.")
    assert docs["clip_eps"].endswith("Allowed: a number in (0, 1).")


def test_help_lists_every_field_with_meaning_and_default():
    out = subprocess.run([sys.executable, "-m", "experiments.train", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    for field in dataclasses.fields(Config):
        flag = f"--[no]{field.name}:" if field.type in ("bool", bool) else f"--{field.name}:"
        assert flag in out, field.name
    agent = out[out.index("--agent:"):out.index("--attention:")]
    assert "rl2 (GRU)" in agent and "Allowed: one of trmrl, rl2," in agent
    assert "(default: 'trmrl')" in agent
    assert "--preset:" in out and "--compilation_cache:" in out
