"""The ``amal`` command: its entry (:mod:`~amal_lightning.command_line.main`), the parser of each
subcommand and what it prints. The only part of the package that prints errors and chooses exit statuses."""
