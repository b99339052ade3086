"""A resumed fit says what it keeps: a ``--model.*`` option the checkpoint overrides, and its epochs in all."""

import logging

from amal_lightning.api.resume_options import config_key, overridden_lines
from amal_lightning.command_line.main import main
from tests.helpers import CONFIGS, with_test_settings


def test_a_model_option_the_checkpoint_overrides_is_named_with_the_checkpoints_value(workdir, capsys, caplog):
    config = str(CONFIGS / "tanh_mlp.yaml")
    main(["fit", *with_test_settings(["--config", config, "--trainer.max_epochs=3", "--test=false"])])
    capsys.readouterr()
    lightning = logging.getLogger("lightning.pytorch")
    lightning.addHandler(caplog.handler)  # Lightning's lines, which its logger does not pass to the root logger
    try:
        resumed = ["--config", config, "--trainer.max_epochs=5", "--test=false", "--ckpt_path=last"]
        main(["fit", *with_test_settings([*resumed, "--model.hidden_dim", "16", "--model.input_dim=13"])])
    finally:
        lightning.removeHandler(caplog.handler)
    lines = [record.getMessage() for record in caplog.records if "is not used" in record.getMessage()]
    assert lines == [  # one line, for the option whose value the checkpoint replaced (input_dim is the same)
        "--model.hidden_dim 16 is not used: the model is checkpoints/tanh_mlp/version_0/last.ckpt's, whose "
        "hidden_dim is 100 (a checkpoint's model keeps the options it was trained with)"
    ]
    # the run's epochs in all, and how many this time
    assert "Fit: 5 epochs, 2 of them this time in " in capsys.readouterr().out


def test_model_options_land_under_the_models_init_args():
    assert config_key("--model.latent_dim") == "model.init_args.latent_dim"
    assert config_key("--model.optimizer.init_args.lr") == "model.init_args.optimizer.init_args.lr"
    assert config_key("--model.init_args.latent_dim") == "model.init_args.latent_dim"
    assert overridden_lines({"--model.x": ("model.init_args.x", 1)}, {"model.init_args.x": 1}, None) == []
