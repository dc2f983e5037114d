"""What a researcher reads while and after a run trains: TensorBoard events and batch logs."""

import glob
import json
import os
import re

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from wandb.proto import wandb_internal_pb2

from conftest import small_config


def _events(workdir):
    acc = EventAccumulator(os.path.join(workdir, "tensorboard"),
                           size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_tensorboard_holds_every_curve_and_the_config(tiny_run):
    """Read back with TensorBoard's own reader: the meta-test curve per split and episode, its
    mean, per-seed values, the training return per episode, and the configuration."""
    workdir, _ = tiny_run
    acc = _events(workdir)
    tags = set(acc.Tags()["scalars"])
    results = json.load(open(os.path.join(workdir, "eval.json")))
    for split in ("train", "test", "ood"):
        for k, value in enumerate(results[split]["returns_per_episode"]):
            (last,) = [e for e in acc.Scalars(f"eval/{split}/episode_{k + 1}")
                       if e.step == results["env_steps"]][-1:]
            assert np.isclose(last.value, value, rtol=1e-5)
        mean = acc.Scalars(f"eval/{split}/mean")[-1].value
        assert np.isclose(mean, np.mean(results[split]["returns_per_episode"]), rtol=1e-5)
        assert {f"eval/{split}/seed_0", f"eval/{split}/seed_1"} <= tags
    rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    # The meta-test during training: one point per update (eval_every=1) for every episode.
    assert [e.step for e in acc.Scalars("eval/test/episode_3")][:3] == [256, 512, 768]
    assert [e.step for e in acc.Scalars("eval/test/seed_1")][:3] == [256, 512, 768]
    for k in (1, 2):
        np.testing.assert_allclose([e.value for e in acc.Scalars(f"train/return/episode_{k}")],
                                   [r["train_return_per_episode"][k - 1] for r in rows],
                                   rtol=1e-5)
    assert {"per_seed/train_return/seed_0", "per_seed/train_return/seed_1", "loss",
            "reference/random/test"} <= tags
    config = json.load(open(os.path.join(workdir, "config.json")))
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert f"| d_model | `{config['d_model']}` |" in text
    hparams = plugin_data_pb2.HParamsPluginData.FromString(
        acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
    assert hparams.hparams["d_model"].number_value == config["d_model"]
    assert hparams.hparams["agent"].string_value == config["agent"]


def test_batch_logs_are_plain_lines(tiny_run):
    """stdout is a pipe: one line per logged update, no progress-bar carriage returns."""
    _, proc = tiny_run
    assert "\r" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if " update " in line]
    pattern = (r"trmrl/point_nav update (\d)/3 \| env steps ([\d,]+)/768 \(\d+%\) \| "
               r"[\d,]+ steps/s \| return -?\d+\.\d\d \| meta-test -?\d+\.\d\d( \| compile \d+ s)?"
               r" \| ETA \d+:\d\d:\d\d$")
    matches = [re.match(pattern, line) for line in lines]
    assert all(matches), lines
    assert [(m[1], m[2]) for m in matches] == [("1", "256"), ("2", "512"), ("3", "768")]
    assert "compile" in lines[0] and lines[-1].endswith("ETA 0:00:00")


def wandb_records(path):
    """The protobuf records of an offline W&B run file: wandb's log format, 32 KiB blocks of
    chunks, each with a 7-byte header (checksum, little-endian length, type: 1 full, 2 first,
    3 middle, 4 last), after a 7-byte file header."""
    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # Too little room for a header: the block is padded.
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def test_wandb_offline_run_has_the_same_curves(tiny_run):
    """--wandb_mode=offline: a run directory under the workdir, read back record by record."""
    workdir, _ = tiny_run
    (path,) = glob.glob(os.path.join(workdir, "wandb", "offline-run-*", "run-*.wandb"))
    history, config = {}, {}
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json)
                     for i in record.history.item}
            history.setdefault(items["_step"], {}).update(items)
        elif kind == "run":
            config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
    assert sorted(history) == [256, 512, 768]
    assert all("eval/test/episode_3" in h and "train/return" in h for h in history.values())
    results = json.load(open(os.path.join(workdir, "eval.json")))
    assert np.isclose(history[768]["eval/ood/mean"],
                      np.mean(results["ood"]["returns_per_episode"]), rtol=1e-5)
    assert history[768]["figures/adaptation/_type"] == "image-file"
    assert history[768]["figures/adaptation/width"] == 1518  # adaptation.png, three splits.
    saved = json.load(open(os.path.join(workdir, "config.json")))
    assert config["d_model"] == saved["d_model"] and config["agent"] == saved["agent"]


def test_the_progress_line_names_the_physics():
    """A locomotion run's progress line says which physics it runs; point_nav has none."""
    from trmrl_jax.runlog import Progress

    row = {"env_steps": 25_600, "sps": 1000.0, "train_return": -1.0}
    cfg = small_config(env="halfcheetah_vel", backend="mjx")
    line = Progress(cfg, 0, interactive=False, physics="mjx").line(1, row)
    assert line.startswith("trmrl/halfcheetah_vel[mjx] update 1/")
    assert Progress(small_config(), 0, False).line(1, row).startswith("trmrl/point_nav update 1/")
