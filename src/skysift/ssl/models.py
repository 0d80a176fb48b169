"""Backbones and the self-supervised methods (SimCLR, BYOL, DINO) built from lightly parts.

The backbone is a torchvision ResNet trunk (``resnet18`` or ``resnet50``, random init, nothing
downloaded) whose first convolution takes the normaliser's C channels and whose classifier is
removed: ``backbone(x)`` maps (N, C, H, W) in [0, 1] to features (N, D), D = 512 or 2048.
Its state dict has plain torchvision keys (``conv1.weight``, ``bn1.*``, ``layer1...``), what
:func:`skysift.detect.model.load_backbone_weights` loads into the detector's trunk.

Every method has one signature: ``loss(views)`` with ``views`` a list of (N, C, s, s) tensors
(two global views first, DINO's local views after), ``after_step(step, max_steps)`` for the
momentum (EMA) teachers, and ``export_backbone()`` the trunk used downstream (SimCLR's
encoder, BYOL's online encoder, DINO's teacher).

References: SimCLR, Chen et al. 2020 (arXiv:2002.05709); BYOL, Grill et al. 2020
(arXiv:2006.07733); DINO, Caron et al. 2021 (arXiv:2104.14294).
"""

from __future__ import annotations

import abc
import copy
import warnings

import torch
from lightly.loss import DINOLoss, NegativeCosineSimilarity, NTXentLoss
from lightly.models.modules import (
    BYOLPredictionHead,
    BYOLProjectionHead,
    DINOProjectionHead,
    SimCLRProjectionHead,
)
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import nn
from torchvision.models import resnet18, resnet50

from skysift.ssl.config import BackboneName, PretrainConfig


def build_backbone(name: BackboneName, in_channels: int, *, seed: int) -> tuple[nn.Module, int]:
    """A randomly initialised ResNet trunk for ``in_channels`` inputs, without classifier.

    Returns
    -------
    (backbone, dim)
        ``backbone(x)`` maps (N, C, H, W) to (N, dim) features (global average pool).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        trunk = (resnet18 if name == "resnet18" else resnet50)(weights=None)
        if in_channels != 3:
            trunk.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(trunk.conv1.weight, mode="fan_out", nonlinearity="relu")
    dim = int(trunk.fc.in_features)
    trunk.fc = nn.Identity()
    return trunk, dim


class SSLMethod(nn.Module, abc.ABC):
    """Base of the methods: a backbone, a loss over views, an optional EMA update.

    Abstract: every method (SimCLR, BYOL, DINO) defines ``loss``.
    """

    name: str = ""
    #: Extra small (local) views per image the method wants besides the two global ones.
    local_views: int = 0

    def __init__(self, backbone: nn.Module, dim: int, config: PretrainConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.dim = dim
        self.config = config

    @abc.abstractmethod
    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        """Scalar loss of one batch of views (each (N, C, s, s))."""

    def after_step(self, step: int, max_steps: int) -> None:
        """Called after each optimiser step (momentum teachers update here)."""

    def export_backbone(self) -> nn.Module:
        """The trunk that downstream tasks and the detector use."""
        return self.backbone


class SimCLR(SSLMethod):
    """SimCLR: NT-Xent contrastive loss between projections of two views."""

    name = "simclr"

    def __init__(self, backbone: nn.Module, dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, dim, config)
        self.head = SimCLRProjectionHead(dim, config.hidden_dim, config.projection_dim)
        self.criterion = NTXentLoss(temperature=config.temperature)

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        z0 = self.head(self.backbone(views[0]))
        z1 = self.head(self.backbone(views[1]))
        loss: torch.Tensor = self.criterion(z0, z1)
        return loss


class BYOL(SSLMethod):
    """BYOL: an online network predicts the momentum network's projection of the other view."""

    name = "byol"

    def __init__(self, backbone: nn.Module, dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, dim, config)
        hidden, out = config.hidden_dim, config.projection_dim
        self.projection = BYOLProjectionHead(dim, hidden, out)
        self.prediction = BYOLPredictionHead(out, hidden, out)
        self.backbone_momentum = copy.deepcopy(backbone)
        self.projection_momentum = copy.deepcopy(self.projection)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_momentum)
        self.criterion = NegativeCosineSimilarity()

    def _online(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.prediction(self.projection(self.backbone(x)))
        return out

    @torch.no_grad()
    def _target(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.projection_momentum(self.backbone_momentum(x))
        return out.detach()

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        p0, p1 = self._online(views[0]), self._online(views[1])
        z0, z1 = self._target(views[0]), self._target(views[1])
        loss: torch.Tensor = 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))
        return loss

    def after_step(self, step: int, max_steps: int) -> None:
        m = cosine_schedule(step, max_steps, self.config.ema_momentum, 1.0)
        update_momentum(self.backbone, self.backbone_momentum, m=m)
        update_momentum(self.projection, self.projection_momentum, m=m)


class DINO(SSLMethod):
    """DINO: a student matches the centred, sharpened output of a momentum teacher.

    The teacher sees the two global views, the student all views (multi-crop).
    """

    name = "dino"

    def __init__(
        self, backbone: nn.Module, dim: int, config: PretrainConfig, *, local_views: int = 0
    ) -> None:
        super().__init__(backbone, dim, config)
        self.local_views = local_views
        with warnings.catch_warnings():  # lightly's head uses the deprecated weight_norm
            warnings.simplefilter("ignore", FutureWarning)
            self.head = DINOProjectionHead(
                dim, config.hidden_dim, 64, config.dino_output_dim, batch_norm=True
            )
            self.teacher_head = DINOProjectionHead(
                dim, config.hidden_dim, 64, config.dino_output_dim, batch_norm=True
            )
        self.teacher_backbone = copy.deepcopy(backbone)
        self.teacher_head.load_state_dict(self.head.state_dict())
        deactivate_requires_grad(self.teacher_backbone)
        deactivate_requires_grad(self.teacher_head)
        self.criterion = DINOLoss(
            output_dim=config.dino_output_dim,
            warmup_teacher_temp=config.dino_teacher_temp,
            teacher_temp=config.dino_teacher_temp,
            warmup_teacher_temp_epochs=1,
            student_temp=config.dino_student_temp,
        )

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            teacher = [self.teacher_head(self.teacher_backbone(v)) for v in views[:2]]
        student = [self.head(self.backbone(v)) for v in views]
        loss: torch.Tensor = self.criterion(teacher, student)
        return loss

    def after_step(self, step: int, max_steps: int) -> None:
        m = cosine_schedule(step, max_steps, self.config.ema_momentum, 1.0)
        update_momentum(self.backbone, self.teacher_backbone, m=m)
        update_momentum(self.head, self.teacher_head, m=m)

    def export_backbone(self) -> nn.Module:
        return self.teacher_backbone


def build_method(
    name: str,
    *,
    backbone_name: BackboneName,
    in_channels: int,
    config: PretrainConfig,
    seed: int,
    local_views: int = 0,
) -> SSLMethod:
    """A method with a fresh backbone; the same seed gives the same initial weights.

    Parameters
    ----------
    name
        ``simclr``, ``byol`` or ``dino``.
    local_views
        DINO's extra small views per image (ignored by the others).
    """
    backbone, dim = build_backbone(backbone_name, in_channels, seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        if name == "simclr":
            return SimCLR(backbone, dim, config)
        if name == "byol":
            return BYOL(backbone, dim, config)
        if name == "dino":
            return DINO(backbone, dim, config, local_views=local_views)
    raise ValueError(f"unknown SSL method {name!r} (simclr, byol, dino)")
