"""Chapter 5: the Flatten explorer's update (one control change -> cell positions recomputed, up to
100 + 60 numbers redrawn, headless).  Goal: <= 30 ms.  (Flatten's own forward and backward are
timed with the pooling layers, in cases_pooling.py.)"""
from twins import explorer_case


def explorer_cases():
    from kbook.widgets.flatten import FlattenExplorer

    # up to the largest tensor (5x5x4: 100 numbered cells), both layouts, matched and mismatched
    moves = [("height", 5), ("width", 5), ("channels", 4), ("stored_as", "channels_first"),
             ("data_format", "channels_first"), ("height", 3), ("width", 3), ("channels", 2),
             ("stored_as", "channels_last"), ("data_format", "channels_last")]
    return [explorer_case("explorer FlattenExplorer update (ms)", FlattenExplorer(), moves, key_control="height")]
