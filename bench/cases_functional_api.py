"""Chapter 7: the model explorer's update (one control change = rebuild the Functional CNN
symbolically, lay out and redraw its graph, render the PNG, re-make the summary table).
Goal: <= 30 ms.
"""
from twins import explorer_case


def explorer_cases():
    from kbook.widgets.model import ModelExplorer

    # every kind of change, including the two that stop at an error (residual Add after
    # "valid" convolutions; a kernel larger than what is left of the image)
    moves = [("blocks", 3), ("kernel_size", 5), ("padding", "valid"), ("residual", False),
             ("blocks", 1), ("kernel_size", 3), ("padding", "same"), ("residual", True),
             ("blocks", 2), ("kernel_size", 1)]
    return [explorer_case("functional model explorer update (ms)", ModelExplorer(), moves)]
