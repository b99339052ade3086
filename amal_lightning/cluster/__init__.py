"""SLURM: whether this process is a job and its id (:mod:`~amal_lightning.cluster.jobs`), the cluster
options of every submission and their parser (:mod:`~amal_lightning.cluster.submission`, one table),
the sbatch scripts of ``amal submit`` and ``amal study --submit`` (:mod:`~amal_lightning.cluster.sbatch`),
their ``#SBATCH`` lines (:mod:`~amal_lightning.cluster.directives`), the types of the values written
there (:mod:`~amal_lightning.cluster.options`) and cluster profiles (:mod:`~amal_lightning.cluster.profile`)."""
