"""A run: its folders and their policy, its checkpoint files and their checks, and its outcome.

- :mod:`~amal_lightning.runs.folders`: where a run's files go, and which checkpoint it resumes from;
- :mod:`~amal_lightning.runs.checkpoint_files`: what a checkpoint file must hold before it is trusted;
- :mod:`~amal_lightning.runs.outcome`: what a run did (:class:`~amal_lightning.runs.outcome.Outcome`).
"""
