"""The values of ``amal submit``'s options that are written into an sbatch script, as jsonargparse types.

Each type's docstring says what it takes; a refused value is reported as ``--time '2h': not <docstring>``.
Every value is written unquoted on an ``#SBATCH`` line, whose rest sbatch reads as more options
(and an unquoted ``#`` as the start of a comment): none of these types lets a space, a quote, a
backslash or a ``#`` through. Each pattern is the whole value (``\\A...\\Z``: ``$`` would let a final
line break through), in ASCII.
"""

from jsonargparse.typing import restricted_string_type

# `amal submit --time`, in ASCII digits.
TimeLimit = restricted_string_type(
    "TimeLimit", r"\A([0-9]+-)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]\Z", "a time limit, HH:MM:SS or D-HH:MM:SS"
)
# A SLURM partition (or a comma-separated list of them), account, QOS or job name.
SLURM_NAME = r"\A[A-Za-z0-9_.,:+@-]+\Z"
SlurmName = restricted_string_type(
    "SlurmName", SLURM_NAME, "a SLURM name (letters, digits and . , _ - : + @, no spaces)"
)
# `--mem`, `--mem-per-gpu`: SLURM's sizes, in megabytes without a unit.
Memory = restricted_string_type(
    "Memory", r"\A[0-9]+[KMGTkmgt]?\Z", "a memory size, a number with an optional unit K, M, G or T (e.g. 32G)"
)
# `--constraint`: node features joined by SLURM's operators (& | , * [ ] ! and counts such as a100*2).
Constraint = restricted_string_type(
    "Constraint", r"\A[A-Za-z0-9_.,:&|*!\[\]()-]+\Z", "node features (letters, digits, _ . - and & | , * ! [ ] ( ))"
)
# `--gres`: a comma-separated list of NAME[:TYPE][:COUNT] such as gpu:a100:2.
Gres = restricted_string_type(
    "Gres",
    r"\A[A-Za-z][A-Za-z0-9_.-]*(:[A-Za-z0-9_.-]+){0,2}(,[A-Za-z][A-Za-z0-9_.-]*(:[A-Za-z0-9_.-]+){0,2})*\Z",
    "generic resources NAME[:TYPE][:COUNT], comma-separated (e.g. gpu:a100:2)",
)
MAIL_EVENTS = (
    "NONE BEGIN END FAIL REQUEUE ALL INVALID_DEPEND STAGE_OUT TIME_LIMIT TIME_LIMIT_90 TIME_LIMIT_80 "
    "TIME_LIMIT_50 ARRAY_TASKS"
).split()
_EVENT = "|".join(sorted(MAIL_EVENTS, key=len, reverse=True))
MailType = restricted_string_type(
    "MailType",
    rf"(?i)\A({_EVENT})(,({_EVENT}))*\Z",
    "SLURM mail events, comma-separated (NONE, BEGIN, END, FAIL, REQUEUE, ALL, TIME_LIMIT, ...)",
)
MailUser = restricted_string_type(
    "MailUser", r"\A[A-Za-z0-9._%+@-]+(,[A-Za-z0-9._%+@-]+)*\Z", "e-mail addresses, comma-separated"
)
