"""TME1: linear regression trained by gradient descent with the hand-written gradients only."""

from typing import Any, Optional

import torch
from jsonargparse.typing import PositiveFloat, PositiveInt
from torch import nn

from amal_lightning.batches import Batch, known_targets
from amal_lightning.checks import check_model_size, linear_parameters
from amal_lightning.data.housing import NUM_FEATURES
from amal_lightning.data.references import regression_references
from amal_lightning.tme1.functions import MSE, Context, Linear
from amal_lightning.tme2.predicted import PredictsItsDescent, descent_references


class HandGradientRegression(PredictsItsDescent):
    """Linear regression where every gradient comes from ``Linear.backward`` and ``MSE.backward``.

    Autograd is never used: each step builds fresh Contexts, runs the Functions' ``forward``,
    then their ``backward`` in reverse order, and applies ``w -= learning_rate * grad``.
    Lightning's manual optimization mode hands control of the step to ``training_step``.

    Args:
        input_dim: number of features n.
        output_dim: number of outputs p (weight n×p, bias (p,)): 1 for the housing price, 3 for
            the course's random targets (``x`` 50×13, ``y`` 50×3); the loss sums the squared
            errors over the outputs.
        learning_rate: the step size ε (positive: zero would not move, a negative step climbs the loss).
    """

    def __init__(
        self, input_dim: PositiveInt = NUM_FEATURES, output_dim: PositiveInt = 1, learning_rate: PositiveFloat = 0.1
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_model_size(self, linear_parameters([input_dim, output_dim]))
        self.automatic_optimization = False
        self.weight = nn.Parameter(torch.randn(input_dim, output_dim) * 0.01, requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(output_dim), requires_grad=False)

    def reference_values(self, datamodule: Any) -> dict[str, float]:
        """The least-squares losses and the step-size limits (TME1's MSE sums over the outputs), the noise floor."""
        return {
            **regression_references(datamodule, sum_outputs=True, linear=True),
            **descent_references(datamodule, self.hparams.learning_rate),
        }

    def descent_start(self) -> tuple[torch.Tensor, Optional[float]]:
        return torch.cat([self.weight.flatten(), self.bias]), self.hparams.learning_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Linear.forward(Context(), x, self.weight, self.bias)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict[str, torch.Tensor]:
        """Per row, the target where the data has it and the prediction: ``amal predict``'s columns."""
        return {**known_targets(batch, "target"), "prediction": self(batch[0])}

    def loss_of(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """TME1's loss, summed over the outputs and averaged over the rows, as its steps compute it."""
        return MSE.forward(Context(), prediction, target)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        linear_ctx, mse_ctx = Context(), Context()
        yhat = Linear.forward(linear_ctx, x, self.weight, self.bias)
        loss = MSE.forward(mse_ctx, yhat, y)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        if stage == "train":
            grad_yhat, _ = MSE.backward(mse_ctx, torch.ones_like(loss))
            _, grad_weight, grad_bias = Linear.backward(linear_ctx, grad_yhat)
            self.weight -= self.hparams.learning_rate * grad_weight
            self.bias -= self.hparams.learning_rate * grad_bias
            # The stand-in optimizer does nothing but count the step, so that global_step,
            # max_steps and checkpointing see the updates made above.
            self.optimizers().step()
        return loss

    def configure_optimizers(self) -> None:
        return None
