"""Chapter 6: the ConvLayer explorer's update (one control change = ConvLayer's three stages on
the 64x64 photo, three mosaics updated in place, the PNG rendered).  Goal: <= 30 ms.
"""
from twins import explorer_case


def explorer_cases():
    from kbook.widgets.conv_layer import ConvLayerExplorer

    # one control change = one update(), as when a reader moves a slider
    moves = [("filters", 6), ("kernel_size", 5), ("strides", 2), ("padding", "valid"), ("pool_size", 3),
             ("filters", 2), ("kernel_size", 3), ("strides", 1), ("padding", "same"), ("pool_size", 2)]
    return [explorer_case("conv layer explorer update (ms)", ConvLayerExplorer(), moves)]
