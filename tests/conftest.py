import sys

import pytest


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh current folder, so that logs/ and checkpoints/ land in tmp."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["amal"])
    return tmp_path
