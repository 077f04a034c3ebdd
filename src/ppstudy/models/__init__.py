"""Networks: ResNet-18 for 32x32 inputs and the adaptation networks placed in front of it."""

from ppstudy.models.adaptation import AdaptationNetwork, BlockAdaptationNetwork, with_adaptation
from ppstudy.models.resnet_cifar import resnet18_cifar

__all__ = ["AdaptationNetwork", "BlockAdaptationNetwork", "resnet18_cifar", "with_adaptation"]
