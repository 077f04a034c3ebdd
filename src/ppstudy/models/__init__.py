"""Networks: ResNet-18 for 32x32 inputs, the adaptation networks placed in front of it, and the CPU
recipe's fast network (:mod:`ppstudy.models.fastnet`)."""

from ppstudy.models.adaptation import AdaptationNetwork, BlockAdaptationNetwork, with_adaptation
from ppstudy.models.fastnet import FastNet, fastnet_cifar
from ppstudy.models.resnet_cifar import resnet18_cifar

__all__ = [
    "AdaptationNetwork",
    "BlockAdaptationNetwork",
    "FastNet",
    "fastnet_cifar",
    "resnet18_cifar",
    "with_adaptation",
]
