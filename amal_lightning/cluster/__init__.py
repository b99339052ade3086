"""SLURM: whether this process is a job and its id (:mod:`~amal_lightning.cluster.jobs`), and the sbatch
scripts of ``amal submit`` and ``amal study --submit`` (:mod:`~amal_lightning.cluster.sbatch`)."""
