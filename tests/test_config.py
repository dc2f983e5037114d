"""Presets are valid configs, and the config round-trips through JSON."""

import json

import pytest

from trmrl_jax.config import PRESETS, Config, ConfigError, preset, validate


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates(name):
    validate(preset(name))


def test_unknown_preset_and_field_are_refused():
    with pytest.raises(ConfigError, match="preset='nope' is not known"):
        preset("nope")
    with pytest.raises(ConfigError, match=r"unknown config field\(s\) \['nope'\]"):
        Config.from_dict({"nope": 1})


def test_config_round_trips_through_json():
    cfg = preset("ant_dir_fast")
    assert Config.from_dict(json.loads(cfg.to_json())) == cfg
