"""The values of ``amal submit``'s options that are written into an sbatch script, as jsonargparse types.

Each type's docstring says what it takes; a refused value is reported as ``--time '2h': not <docstring>``.
"""

from jsonargparse.typing import restricted_string_type

# `amal submit --time`, the whole value (\A...\Z: `$` would let a final line break through), in ASCII digits.
TimeLimit = restricted_string_type(
    "TimeLimit", r"\A([0-9]+-)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]\Z", "a time limit, HH:MM:SS or D-HH:MM:SS"
)
# A SLURM partition (or a comma-separated list of them) or account. It is written unquoted on an
# #SBATCH line, whose rest sbatch reads as options: a space would add one of its own.
SlurmName = restricted_string_type(
    "SlurmName", r"\A[A-Za-z0-9_.,:+@-]+\Z", "a SLURM name (letters, digits and . , _ - : + @, no spaces)"
)
