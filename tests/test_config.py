"""Presets are valid configs, every field's rule refuses a bad value, the config round-trips
through JSON, and workdirs that cannot be written are named."""

import dataclasses
import json
import os
import shutil
import tempfile
import warnings

import pytest

from trmrl_jax.config import RULES, Config, ConfigError, validate
from trmrl_jax.presets import PRESETS, preset
from trmrl_jax.workdir import workdir_problem


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_and_owns_its_workdir(name):
    cfg = preset(name)
    validate(cfg)  # Raises ConfigError on any bad value.
    assert cfg.workdir == f"runs/{name}"  # Presets never share (and resume) each other's runs.
    assert cfg.window <= cfg.trial_length and cfg.num_updates >= 1


def test_validate_rejects_what_presets_must_not_have():
    trial = preset("quickstart").trial_length
    with pytest.raises(ConfigError, match=f"window={trial + 1} is larger than a trial"):
        validate(preset("quickstart").replace(window=trial + 1))


def test_unknown_preset_and_field_are_refused():
    with pytest.raises(ConfigError, match="preset='nope' is not known"):
        preset("nope")
    with pytest.raises(ConfigError, match=r"unknown config field\(s\) \['nope'\]"):
        Config.from_dict({"nope": 1})


def test_config_round_trips_through_json():
    cfg = preset("paper_ant_dir")
    assert Config.from_dict(json.loads(cfg.to_json())) == cfg


# One value each field must refuse. Every field of Config is here (the test below checks it),
# so a new field needs a rule in config.RULES and an entry here.
INVALID = {
    "env": "nope", "backend": "bullet", "episode_length": 0, "episodes_per_trial": -1,
    "num_tasks": 0, "reset_memory_each_episode": "yes", "agent": "transformer",
    "attention": "full", "window": 0, "num_layers": 0, "num_heads": 0, "d_model": -64,
    "d_ff": 0, "position": "learned", "policy_input": "token", "value_input": "none",
    "init": "xavier", "head_hidden": 0, "gru_size": 0, "mlp_hidden": -1, "maml_inner_lr": 0.0,
    "maml_inner_steps": 0, "compute_dtype": "float16",
    "matmul_precision": "tf32",
    "init_std": 0.0, "policy_out_gain": -1.0, "total_env_steps": 0, "learning_rate": -1e-3,
    "value_learning_rate": float("nan"), "lr_final_fraction": 0.0,
    "value_lr_final_fraction": 1.5, "lr_decay_begin": -1, "lr_decay_end": -5,
    "lr_decay_shape": "cosine", "weight_decay": -0.01, "max_grad_norm": float("inf"),
    "optimizer_layout": "split", "value_target": "td", "value_loss": "huber", "gamma": 1.01,
    "gae_lambda": -0.1, "clip_eps": -1.0, "num_epochs": 0, "num_minibatches": 0,
    "minibatch_size": -256, "vf_coef": -0.5, "ent_coef": -0.01, "reward_scale": 0.0,
    "normalize_obs": 1, "normalize_advantages": "false", "target_kl": -0.01,
    "pearl_train_tasks": 0, "pearl_replay_capacity": 0, "pearl_grad_steps": 0,
    "pearl_meta_batch": 0, "pearl_batch_size": 0, "pearl_context_size": 0,
    "pearl_latent_size": 0, "pearl_hidden": 0, "pearl_encoder_hidden": 0, "pearl_kl_lambda": -0.1,
    "pearl_learning_rate": 0.0, "pearl_tau": 1.5, "pearl_reward_scale": 0.0, "eval_tasks": 0,
    "eval_episodes": 0,
    "eval_every": -1, "ood": None, "seed": -1, "num_seeds": 0, "num_devices": -1,
    "coordinator_address": "localhost", "num_processes": -2, "process_id": -2,
    "coordinator_timeout_s": 0, "resume": "no", "log_every": 0, "checkpoint_every": 0,
    "keep_checkpoints": 0, "workdir": "",
}


def test_every_field_has_a_rule_and_refuses_an_invalid_value():
    names = [f.name for f in dataclasses.fields(Config)]
    assert sorted(RULES) == sorted(names), "every Config field needs an entry in config.RULES"
    assert sorted(INVALID) == sorted(names), "every Config field needs an invalid value here"
    base = preset("quickstart")
    validate(base)
    for name in names:
        value = INVALID[name]
        with pytest.raises(ConfigError) as err:
            validate(base.replace(**{name: value}))
        message = str(err.value)
        assert message.startswith(f"{name}={value!r} is not allowed; it must be "), message
        assert "\n" not in message


@pytest.mark.parametrize("name,value", [
    ("clip_eps", 0.1), ("gamma", 0.0), ("gamma", 1.0), ("learning_rate", 1), ("seed", 2**31 - 1),
    ("coordinator_address", "[::1]:12355"), ("minibatch_size", 0), ("max_grad_norm", 0.0)])
def test_rules_accept_their_edges(name, value):
    """Each value sits on the edge of its field's allowed range: its rule accepts it, and so does
    the whole config (``validate`` would raise ``ConfigError`` otherwise)."""
    assert RULES[name].check(value), f"{name}={value!r} should be allowed"
    cfg = preset("quickstart").replace(**{name: value})
    assert validate(cfg) is None and getattr(cfg, name) == value


def test_workdir_problems_name_the_cause(tmp_path):
    (tmp_path / "file").write_text("x")
    assert workdir_problem(str(tmp_path / "file")) == "is a file, not a folder"
    assert workdir_problem(str(tmp_path / "file" / "run")) == (
        f"lies under {str(tmp_path / 'file')!r}, which is a file")
    assert workdir_problem(str(tmp_path / "new" / "run")) is None
    assert workdir_problem(str(tmp_path)) is None


def _unprivileged(fn, *args):
    """``fn(*args)`` where mode bits apply: root (which writes through them) runs it in a forked
    child that drops to the user nobody; the result comes back as JSON over a pipe."""
    if os.geteuid() != 0:
        return fn(*args)
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns that fork does not mix with its threads.
        pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, json.dumps(fn(*args)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return json.loads(out)


def test_a_folder_that_cannot_be_written_is_refused():
    top = tempfile.mkdtemp()  # Not under tmp_path, which the user nobody cannot enter.
    readonly = os.path.join(top, "ro")
    try:
        os.chmod(top, 0o755)
        os.mkdir(readonly)
        os.chmod(readonly, 0o555)
        problems = _unprivileged(lambda: [workdir_problem(readonly),
                                          workdir_problem(os.path.join(readonly, "run"))])
        assert problems == ["is not writable", f"cannot be created: {readonly!r} is not writable"]
    finally:
        os.chmod(readonly, 0o755)
        shutil.rmtree(top)
