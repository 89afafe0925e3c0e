"""Chapter 8: the freezing explorer's update (one ``trainable`` box ticked = one forward and
backward pass of the small detector, the bars recoloured, the PNG rendered).  Goal: <= 30 ms.
"""
from twins import explorer_case


def explorer_cases():
    from kbook.widgets.model_subclassing import FreezeExplorer

    # one control change = one update(), as when a reader ticks a box (the cascade included)
    moves = [("backbone_trainable", False), ("conv_b_trainable", True), ("head_trainable", False),
             ("backbone_trainable", True), ("model_trainable", False), ("model_trainable", True)]
    return [explorer_case("model subclassing freeze explorer update (ms)", FreezeExplorer(), moves)]
