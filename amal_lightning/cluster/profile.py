"""Cluster profiles: ``amal submit --profile FILE.yaml``, a cluster's options written once.

A profile is a YAML mapping of ``amal submit``'s options, named as on the command line without
the dashes (``gpus-per-node`` or ``gpus_per_node``), with the set-up lines as a list::

    partition: gpu
    time: "04:00:00"
    exclusive: true
    setup: [module load cuda]
    sbatch: {reservation: lab}      # or a list: [reservation=lab]

It is read as command-line words put before the command line's own, so an option given on the
command line wins wherever ``--profile`` stands, and the lists (``setup``, ``sbatch``) add up: the
profile's first. Every scalar is read as the text written (YAML's 1.1 rules would read
``04:00:00`` as the number 14400), and then checked by the option's own type, as on the command line.
"""

import difflib
from collections.abc import Collection, Mapping
from typing import Any

import yaml

from amal_lightning.checks import regular_file
from amal_lightning.errors import AmalError, first_line

# How a profile's key becomes words: a flag (true/false), a repeatable option, a single value, or none
# (an option of another command that reads profiles: `max-parallel` is a job array's, left out by amal submit).
FLAG, LIST, VALUE, IGNORED = "flag", "list", "value", "ignored"
TRUE, FALSE = ("true", "yes", "on"), ("false", "no", "off")


def read_mapping(path: str) -> dict[str, Any]:
    """The profile's mapping, every scalar as a string; an AmalError naming the file if it is not one."""
    where = f"--profile {path}"
    try:
        text = regular_file(path, "--profile").read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise AmalError(f"{where}: not UTF-8 text (byte {error.object[error.start]:#04x} at {error.start})") from None
    except OSError as error:
        raise AmalError(f"{where}: cannot read it ({error.strerror})") from None
    try:
        data = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds strings, lists and dicts only
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reason = getattr(error, "problem", None) or first_line(error)
        raise AmalError(f"{where}: not YAML ({at}{reason})") from None
    if data is None or data == "":
        return {}
    if not isinstance(data, dict):
        raise AmalError(f"{where}: not a mapping of options (such as `partition: gpu`)")
    return data


def scalar(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise AmalError(f"{where}: {key}: expected one value, not a {'list' if isinstance(value, list) else 'mapping'}")
    return value


def entries(where: str, key: str, value: Any) -> list[str]:
    """A repeatable option's values: a list, one value, or (``sbatch``) a mapping of KEY: VALUE."""
    if isinstance(value, dict):
        if key != "sbatch":
            raise AmalError(f"{where}: {key}: expected a list of lines, not a mapping")
        return [f"{name}={scalar(where, f'sbatch: {name}', item)}" for name, item in value.items()]
    return [scalar(where, key, item) for item in value] if isinstance(value, list) else [scalar(where, key, value)]


def profile_words(path: str, options: Mapping[str, str], leave_out: Collection[str] = ()) -> list[str]:
    """The profile at ``path`` as command-line words, for the options ``options`` names (name → FLAG, LIST, VALUE),
    but for those of ``leave_out`` (which the command line replaces).

    Raises an AmalError of one line naming the file (and the key) for a file that cannot be read, is
    not UTF-8 or not YAML, is not a mapping, or has a key that is not one of ``options``.
    """
    where, words = f"--profile {path}", []
    for raw_key, value in read_mapping(path).items():
        key = str(raw_key).replace("_", "-")
        kind = options.get(key)
        if kind is None:
            close = [name for name in options if name.startswith(key)] or difflib.get_close_matches(
                key, list(options), n=1
            )
            hint = f"did you mean {close[0]}?" if close else f"its options: {', '.join(sorted(options))}"
            raise AmalError(f"{where}: {str(raw_key)!r} is not an option of a cluster profile ({hint})")
        if kind == IGNORED or key in leave_out:
            continue
        if kind == FLAG:
            flag = scalar(where, key, value).lower()
            if flag not in (*TRUE, *FALSE):
                raise AmalError(f"{where}: {key}: expected true or false, not {value!r}")
            words.append(f"--{key}" if flag in TRUE else f"--no-{key}")
        elif kind == LIST:
            words += [word for item in entries(where, key, value) for word in (f"--{key}", item)]
        else:
            words += [f"--{key}", scalar(where, key, value)]
    return words
