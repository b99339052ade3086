"""``python -m amal_lightning`` is the ``amal`` command, for environments without the console script."""

from amal_lightning.command_line.main import main

if __name__ == "__main__":
    main()
