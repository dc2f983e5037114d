"""Presets are valid configs, and the config round-trips through JSON."""

import json

import pytest

from trmrl_jax.config import PRESETS, Config, ConfigError, preset, validate


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_and_owns_its_workdir(name):
    cfg = preset(name)
    validate(cfg)  # Raises ConfigError on any bad value.
    assert cfg.workdir == f"runs/{name}"  # Presets never share (and resume) each other's runs.
    assert cfg.window <= cfg.trial_length and cfg.num_updates >= 1


def test_validate_rejects_what_presets_must_not_have():
    with pytest.raises(ConfigError, match="window=61 is larger than a trial"):
        validate(preset("quickstart").replace(window=61))


def test_unknown_preset_and_field_are_refused():
    with pytest.raises(ConfigError, match="preset='nope' is not known"):
        preset("nope")
    with pytest.raises(ConfigError, match=r"unknown config field\(s\) \['nope'\]"):
        Config.from_dict({"nope": 1})


def test_config_round_trips_through_json():
    cfg = preset("paper_ant_dir")
    assert Config.from_dict(json.loads(cfg.to_json())) == cfg
