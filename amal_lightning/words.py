"""Command-line words: the one module that reads them before (or beside) a parser.

A parser reads a command line whole; some questions come first: which words after ``--`` go to
``amal fit``, which of a command line's words are ``amal lr-find``'s own, the ``--profile`` file
to read before parsing, or the value of an option to name in an error. Each rule here is written
once, so that every command reads ``--name value`` and ``--name=value`` alike. It imports nothing
of the package, so any part of it may use it.
"""

from collections.abc import Collection, Iterator, Sequence
from typing import Optional

SEPARATOR = "--"  # the words after it go to `amal fit`


def option_of(word: str) -> str:
    """The option a word names: ``--time`` for ``--time=01:00:00`` and for ``--time``."""
    return word.split("=", 1)[0]


def gives(argv: Sequence[str], options: Collection[str]) -> bool:
    """Whether ``argv`` gives one of ``options`` (``--x``, ``--x V`` or ``--x=V``)."""
    return any(option_of(word) in options for word in argv)


def given_values(option: Collection[str], argv: Sequence[str]) -> list[str]:
    """Every value given to one of the names ``option`` (``--config`` and ``-c``) in ``argv``, in order,
    as ``--x V`` or ``--x=V``."""
    values = []
    for index, word in enumerate(argv):
        name, equals, value = word.partition("=")
        if equals and name in option:
            values.append(value)
        elif word in option and index + 1 < len(argv):
            values.append(argv[index + 1])
    return values


def given_value(option: str, argv: Sequence[str]) -> Optional[str]:
    """The last value given to ``option`` in ``argv`` (``--x V`` or ``--x=V``), if any: the one a parser keeps."""
    values = given_values((option,), argv)
    return values[-1] if values else None


def split_at_separator(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The words before ``--`` and those after it, which go to ``amal fit``."""
    before, after = split_after(argv, SEPARATOR)
    return (before[:-1] if SEPARATOR in argv else before), after


def split_after(argv: Sequence[str], word: str) -> tuple[list[str], list[str]]:
    """The words up to ``word`` (included) and those after it: ``--submit`` and the cluster options that follow."""
    words = list(argv)
    if word not in words:
        return words, []
    index = words.index(word) + 1
    return words[:index], words[index:]


def take_options(argv: Sequence[str], options: Collection[str]) -> tuple[list[str], list[str]]:
    """(The words of ``options``, each with its value; the other words), from one command line where
    both stand mixed, such as ``amal lr-find``'s own options among ``amal fit``'s."""
    taken, rest, index = [], [], 0
    while index < len(argv):
        word = argv[index]
        if option_of(word) in options:
            count = 1 if "=" in word else 2
            taken += argv[index : index + count]
            index += count
        else:
            rest.append(word)
            index += 1
    return taken, rest


def named_values(argv: Sequence[str], label: str = "an option") -> Iterator[tuple[str, str]]:
    """Each word of ``argv`` as (the option it belongs to, its value), to name a bad value by its option:
    ``--x=V`` is (``--x``, ``V``); any other word is named by the word before it where that is an option
    without a value, else by ``label``."""
    for index, word in enumerate(argv):
        option, equals, value = word.partition("=")
        if not (equals and word.startswith("--")):
            before = argv[index - 1] if index else ""
            option, value = (before if before.startswith("-") and "=" not in before else label), word
        yield option, value
