"""Inputs a hostile probe found that ended in a traceback: each is now one line, and nothing saved is lost."""

import time

import pytest
import torch

from amal_lightning.callbacks import checkpoints as checkpoints_module
from amal_lightning.callbacks.checkpoints import AtomicCheckpointIO
from amal_lightning.errors import AmalError
from amal_lightning.studies.spec import load_study


def test_a_save_that_fails_mid_write_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def full_disk(checkpoint, file):  # what torch's zip writer raises when the disk fills under it
        file.write(b"PK\x03\x04 half a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoints_module.torch, "save", full_disk)
    with pytest.raises(AmalError) as raised:
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and "the previous one is intact" in message
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"]["w"], torch.ones(3))
    assert [child.name for child in path.parent.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_a_study_file_that_is_not_utf8_is_one_line(tmp_path):
    study = tmp_path / "latin1.yaml"
    study.write_bytes("name: étude\n".encode("latin-1"))
    with pytest.raises(AmalError) as raised:
        load_study(study)
    assert str(raised.value) == f"{study}: cannot read the study file (not UTF-8 text, byte 6)"


def test_a_huge_grid_is_refused_before_it_is_expanded(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("trainer: {max_epochs: 1}\n")
    values = list(range(200))
    study = tmp_path / "huge.yaml"
    study.write_text(f"config: {config}\ngrid: {{a: {values}, b: {values}, c: {values}}}\n")
    started = time.monotonic()
    with pytest.raises(AmalError) as raised:
        load_study(study)
    assert time.monotonic() - started < 5  # 8 million variants would take minutes to list
    assert str(raised.value) == f"{study}, grid: 200 × 200 × 200 = 8,000,000 variants, more than max_variants (10,000)"
    study.write_text(f"config: {config}\nmax_variants: 8000000\ngrid: {{a: [1, 2], b: [3]}}\n")
    assert len(load_study(study).variants) == 2
