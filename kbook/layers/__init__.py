"""kbook's layers, named and shaped like ``keras.layers``."""
from kbook.layers.activation import Activation
from kbook.layers.base import InputSpec, Layer, reset_names
from kbook.layers.batch_normalization import BatchNormalization
from kbook.layers.conv2d import Conv2D
from kbook.layers.dense import Dense
from kbook.layers.flatten import Flatten
from kbook.layers.input_layer import Input, InputLayer, KerasTensor
from kbook.layers.merging import Add, Average, Concatenate, Multiply, Subtract
from kbook.layers.pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                                  GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)

__all__ = ["Add", "Average", "Concatenate", "Input", "InputLayer", "KerasTensor", "Multiply", "Subtract",
           "Activation", "AveragePooling2D", "AvgPool2D", "BatchNormalization", "Conv2D", "Dense", "Flatten",
           "GlobalAveragePooling2D",
           "GlobalAvgPool2D", "GlobalMaxPool2D", "GlobalMaxPooling2D", "InputSpec", "Layer", "MaxPool2D",
           "MaxPooling2D", "reset_names"]
