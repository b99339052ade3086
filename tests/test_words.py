"""The command-line words read before a parser (:mod:`amal_lightning.words`): both spellings of an option."""

import pytest

from amal_lightning.words import (
    given_value,
    given_values,
    gives,
    named_values,
    option_of,
    split_after,
    split_at_separator,
    take_options,
)


def test_an_option_is_named_with_or_without_its_value():
    assert option_of("--time=01:00:00") == "--time" and option_of("--time") == "--time"
    assert option_of("--sbatch=a=b") == "--sbatch"
    assert gives(["--mem=8G"], ("--mem", "--mem-per-gpu")) and gives(["--mem-per-gpu", "2G"], ("--mem-per-gpu",))
    assert not gives(["--memory", "8G"], ("--mem",))


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (["--profile", "a.yaml"], "a.yaml"),
        (["--profile=a.yaml"], "a.yaml"),
        (["--profile", "a.yaml", "--profile=b.yaml"], "b.yaml"),  # the last, as the parser keeps it
        (["--profile"], None),  # no value after it
        (["--profiles", "a.yaml"], None),
        ([], None),
    ],
)
def test_the_value_given_is_the_last(argv, value):
    assert given_value("--profile", argv) == value


def test_every_value_of_several_names():
    argv = ["-c", "a.yaml", "--trainer.max_epochs", "3", "--config=b.yaml", "--config"]
    assert given_values(("--config", "-c"), argv) == ["a.yaml", "b.yaml"]


def test_the_separator_splits_a_command_line_once():
    assert split_at_separator(["--time", "1", "--", "--x", "--", "y"]) == (["--time", "1"], ["--x", "--", "y"])
    assert split_at_separator(["--time", "1"]) == (["--time", "1"], [])
    assert split_after(["a.yaml", "--submit", "--time", "1"], "--submit") == (["a.yaml", "--submit"], ["--time", "1"])
    assert split_after(["a.yaml"], "--submit") == (["a.yaml"], [])


def test_options_are_taken_out_with_their_values_wherever_they_stand():
    argv = ["--config", "c.yaml", "--min_lr", "0.1", "--data.source", "sample", "-o=x.png", "--max_lr"]
    taken, rest = take_options(argv, ("--min_lr", "--max_lr", "-o"))
    assert taken == ["--min_lr", "0.1", "-o=x.png", "--max_lr"]
    assert rest == ["--config", "c.yaml", "--data.source", "sample"]


def test_each_word_is_named_by_its_option():
    argv = ["--time=1:00", "--partition", "gpu", "loose", "--dry-run"]
    assert list(named_values(argv, "a word")) == [
        ("--time", "1:00"),
        ("a word", "--partition"),
        ("--partition", "gpu"),
        ("a word", "loose"),
        ("a word", "--dry-run"),
    ]
