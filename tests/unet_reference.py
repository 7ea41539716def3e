"""A plain-PyTorch U-Net, the reference the unet spec is compared with (test-only code).

Import it only where torch is present (test_zoo.py skips first).

The common padded U-Net (Ronneberger et al. 2015 with padding 1 and batch norm, as in the widely
used milesial/Pytorch-UNet with bilinear=False): at each level two 3×3 convolutions with
padding 1 and no bias, each followed by BatchNorm2d and ReLU; widths 64, 128, 256, 512, 1024;
MaxPool2d(2) on the way down; ConvTranspose2d(2w → w, kernel 2, stride 2, with bias) on the way
up, the skip concatenated before the up-path convolutions as ``torch.cat([skip, upsampled], 1)``,
then the double convolution (2w → w); a final 1×1 convolution with bias to 2 classes.
Input 3×512×512. 31,037,698 parameters.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

WIDTHS = (64, 128, 256, 512, 1024)
IN_CHANNELS = 3
CLASSES = 2
INPUT_SHAPE = (IN_CHANNELS, 512, 512)


class DoubleConv(nn.Module):
    """(3×3 conv, padding 1, no bias → BatchNorm2d → ReLU) twice."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.bn1(self.conv1(x)))
        out: torch.Tensor = self.relu2(self.bn2(self.conv2(x)))
        return out


class Down(nn.Module):
    """MaxPool2d(2), then the double convolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(self.pool(x))
        return out


class Up(nn.Module):
    """ConvTranspose2d(2w → w, 2, stride 2); cat([skip, upsampled]); double conv 2w → w."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.conv = DoubleConv(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(torch.cat([skip, self.up(x)], dim=1))
        return out


class UNet(nn.Module):
    def __init__(self, in_channels: int = IN_CHANNELS, classes: int = CLASSES) -> None:
        super().__init__()
        self.inc = DoubleConv(in_channels, WIDTHS[0])
        self.downs = nn.ModuleList(Down(a, b) for a, b in pairwise(WIDTHS))
        self.ups = nn.ModuleList(Up(a, b) for a, b in pairwise(reversed(WIDTHS)))
        self.outc = nn.Conv2d(WIDTHS[0], classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inc(x)
        skips = []
        for down in self.downs:
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.ups, reversed(skips), strict=True):
            x = up(x, skip)
        out: torch.Tensor = self.outc(x)
        return out


def build_unet() -> nn.Module:
    """The U-Net module (built on whatever device is current: use ``torch.device("meta")``)."""
    return UNet()
