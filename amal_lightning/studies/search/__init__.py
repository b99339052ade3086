"""A study file's ``search:`` block: Optuna searches the space its file declares, trial by trial.

- :mod:`~amal_lightning.studies.search.spec`: the space, checked before anything trains;
- :mod:`~amal_lightning.studies.search.storage`: the trials in Optuna's journal, shared by the workers;
- :mod:`~amal_lightning.studies.search.run`: a worker takes the next trial and trains it;
- :mod:`~amal_lightning.studies.search.trials`: the trials as a study's variants;
- :mod:`~amal_lightning.studies.search.pruning`: the median pruner inside a trial's fit;
- :mod:`~amal_lightning.studies.search.summary` and :mod:`~amal_lightning.studies.search.figures`: its results.
"""
