"""The parsers of the commands that train nothing (``amal study``, ``amal plot``, ``amal runs``, ...).

They are jsonargparse parsers with typed options, as ``amal fit``'s is, built and read by
:mod:`amal_lightning.parse_errors` (which the cluster options' parser, below the command line,
uses too): :func:`parse` raises a :class:`~amal_lightning.errors.UsageError` of one line naming
the option, such as ``--time '2h': not a time limit, HH:MM:SS or D-HH:MM:SS``, instead of printing
the usage and exiting. ``--help`` prints the options and exits, as jsonargparse does.
"""

from amal_lightning.parse_errors import command_parser, parse, refuse

__all__ = ["command_parser", "parse", "refuse"]
