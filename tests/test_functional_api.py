"""Chapter 7: the model explorer and the exercise checkers (the engine has its own test files)."""
import numpy as np
import pytest

from kbook.exercises import functional_api as ex
from kbook.exercises.checker import CORRECT, TODO, WRONG
from kbook.layers import Add, Concatenate, Conv2D, Dense, Flatten, Input, MaxPooling2D
from kbook.layers.base import _name_counts
from kbook.models import Model, Sequential
from kbook.widgets.model import ModelExplorer, build_cnn

PNG = b"\x89PNG"


# --- the explorer ----------------------------------------------------------------------------

def test_explorer_redraws_once_per_change_in_the_same_figure():
    explorer = ModelExplorer()
    figure, renders = explorer.live.figure, explorer.live.renders
    assert bytes(explorer.live.image.value).startswith(PNG)
    before = explorer.summary()
    explorer.blocks.value = 3
    explorer.kernel_size.value = 5
    assert explorer.live.renders == renders + 2
    assert explorer.live.figure is figure
    assert explorer.summary() != before
    assert "build_cnn(blocks=3, kernel_size=5, padding='same', residual=True)" in explorer.summary()


def test_explorer_summary_follows_the_controls():
    explorer = ModelExplorer(blocks=1, kernel_size=3, padding="same", residual=False)
    text = explorer.summary()
    # stem 3*3*3*8+8 = 224, two convs 3*3*8*8+8 = 584 each, dense 16*16*8*10+10 = 20,490
    assert "total params 21,882" in text and "output (None, 10)" in text
    assert "block1_pool (None, 16, 16, 8)" in text
    explorer.blocks.value = 2
    assert "block2_pool (None, 8, 8, 8)" in explorer.summary()
    assert "total params 7,690" in explorer.summary()
    explorer.residual.value = True  # an Add has no weights: same count, two more layers
    assert "total params 7,690" in explorer.summary()
    assert [layer.name for layer in explorer.model.layers].count("block1_add") == 1
    explorer.kernel_size.value = 1
    assert "total params 5,130" not in explorer.summary()  # 1x1 kernels: 8*8+8 = 72 per conv
    assert "block1_conv_a 72" in explorer.summary()


def test_explorer_model_is_build_cnn_and_its_summary_is_shown():
    explorer = ModelExplorer(blocks=2, kernel_size=5, padding="same", residual=True)
    reference = build_cnn(blocks=2, kernel_size=5, padding="same", residual=True)
    assert [layer.name for layer in explorer.model.layers] == [layer.name for layer in reference.layers]
    assert explorer.model.count_params() == reference.count_params()
    assert explorer.model_summary().splitlines()[0] == 'Model: "cnn"'
    assert "block2_add (Add)" in explorer.summary_html.value
    assert "Connected to" in explorer.summary_html.value  # a residual graph is not a chain
    assert explorer.model(np.zeros((1, 32, 32, 3), dtype="float32")).shape == (1, 10)


def test_residual_add_after_valid_convolutions_is_refused_and_shown():
    explorer = ModelExplorer(blocks=1, kernel_size=3, padding="same", residual=True)
    explorer.padding.value = "valid"
    assert explorer.error is not None
    layer, message = explorer.error
    assert layer.name == "block1_add" and "incompatible shapes" in message
    text = explorer.summary()
    assert "block1_add (Add) refuses its input -> ValueError: Inputs have incompatible shapes" in text
    assert "(28, 28, 8) and (32, 32, 8)" in text
    assert explorer.model.layers[-1].name == "block1_conv_b"  # the graph up to the failing layer
    assert "ValueError" in explorer.caption.value
    explorer.residual.value = False
    assert explorer.error is None and "output (None, 10)" in explorer.summary()


def test_a_kernel_larger_than_what_is_left_is_refused():
    explorer = ModelExplorer(blocks=3, kernel_size=5, padding="valid", residual=False)
    layer, message = explorer.error
    assert layer.name == "block3_conv_a" and "zero or negative" in message
    assert "block2_pool (None, 2, 2, 8)" in explorer.summary()


def test_explorer_draws_one_box_per_layer_and_an_arrow_per_connection():
    explorer = ModelExplorer(blocks=2, residual=True)
    boxes = sum(len(patch.get_path().vertices) // 14 for kind, patch in explorer._box_patches.items()
                if kind != "error" and len(patch.get_path().vertices) > 1)
    assert boxes == len(explorer.model.layers) == 12
    heads = len(explorer._heads["#3c4043"].get_path().vertices) // 4
    assert heads == 11 + 2  # a chain of 12 boxes, plus one shortcut per block
    explorer.residual.value = False
    heads = len(explorer._heads["#3c4043"].get_path().vertices) // 4
    assert heads == len(explorer.model.layers) - 1


def test_figure_height_follows_the_number_of_layers():
    explorer = ModelExplorer(blocks=1, residual=False)
    short = explorer.live.figure.get_size_inches()[1]
    explorer.blocks.value = 3
    assert explorer.live.figure.get_size_inches()[1] > short


def test_explorer_leaves_automatic_names_alone():
    Dense(2)
    saved = dict(_name_counts)
    explorer = ModelExplorer()
    explorer.blocks.value = 3
    assert _name_counts == saved
    assert Dense(2).name == "dense_1"


def test_explorer_model_summary_is_keras_summary(tf):
    from kbook.check import keras_model_twin
    from kbook.summary import summary_text

    explorer = ModelExplorer(blocks=2, kernel_size=3, padding="same", residual=True)
    twin = keras_model_twin(explorer.model)
    parts = []
    twin.summary(print_fn=lambda text, **kwargs: parts.append(text))
    assert summary_text(explorer.model) == "".join(parts)


def test_widget_holds_controls_picture_and_summary():
    explorer = ModelExplorer()
    box = explorer.widget
    assert explorer.blocks in box.children[0].children
    assert explorer.live.image in box.children[2].children
    assert explorer.summary_html in box.children[2].children


# --- the exercise checkers -------------------------------------------------------------------

def assert_wrong(verdict, *words):
    assert verdict.status == WRONG, verdict
    for word in words:
        assert word in verdict.message, (word, verdict.message)


def test_output_shape_checker():
    assert ex.output_shape(None).status == TODO
    for answer in [(None, 16, 16, 12), [None, 16, 16, 12], (None, np.int64(16), 16, np.int32(12))]:
        assert ex.output_shape(answer).status == CORRECT
    assert_wrong(ex.output_shape((16, 16, 12)), "batch axis", "None")
    assert_wrong(ex.output_shape((None, 16, 16, 8)), "channel counts add up")
    assert_wrong(ex.output_shape((None, 16, 16, 4)), "channel counts add up")
    assert_wrong(ex.output_shape((None, 32, 32, 12)), "MaxPooling2D")
    assert_wrong(ex.output_shape((None, 15, 15, 12)), 'padding="same"')
    assert_wrong(ex.output_shape((None, 8, 8, 12)), "Follow the shapes")
    assert_wrong(ex.output_shape("(None, 16, 16, 12)"), "raised TypeError")
    assert_wrong(ex.output_shape((None, 16.5, 16, 12)), "raised ValueError")


def test_output_shape_checker_expected_answer_is_the_graph_s():
    assert ex.branch_graph().shape == (None, 16, 16, 12)


def test_param_count_checker():
    assert ex.two_input_model().count_params() == 116
    assert ex.param_count(None).status == TODO
    for answer in [116, np.int64(116), 116.0, np.float32(116)]:
        assert ex.param_count(answer).status == CORRECT
    assert_wrong(ex.param_count(172), "called twice")
    assert_wrong(ex.param_count(60), "shared Dense too")
    assert_wrong(ex.param_count(104), "bias")
    assert_wrong(ex.param_count(92), "16 numbers")
    assert_wrong(ex.param_count(124), "8 numbers, not 16")
    assert_wrong(ex.param_count(47), "Merge layers have no weights")
    assert_wrong(ex.param_count(116.5), "raised ValueError")
    assert_wrong(ex.param_count(True), "raised TypeError")


def _residual(relu=True, padding="same", add_input=True, second_filters=1, units=2):
    def build():
        inputs = Input((8, 8, 1))
        a = Conv2D(4, 3, padding=padding, activation="relu" if relu else None)(inputs)
        h = Conv2D(second_filters, 3, padding=padding)(a)
        h = Add()([inputs, h] if add_input else [a, h])
        return Model(inputs, Dense(units)(Flatten()(h)))
    return build


def test_residual_model_checker_accepts_the_solution_either_add_order():
    def solution():
        inputs = Input((8, 8, 1))
        h = Conv2D(4, 3, padding="same", activation="relu")(inputs)
        h = Conv2D(1, 3, padding="same")(h)
        h = Add()([h, inputs])
        return Model(inputs, Dense(2)(Flatten()(h)))

    assert ex.residual_model(solution).status == CORRECT
    assert ex.residual_model(_residual()).status == CORRECT  # Add([inputs, h]): addition commutes


def test_residual_model_checker_rejects_the_usual_mistakes(tf):
    assert ex.residual_model(None).status == TODO
    assert ex.residual_model(lambda: None).status == TODO

    def no_add():
        inputs = Input((8, 8, 1))
        h = Conv2D(1, 3, padding="same")(Conv2D(4, 3, padding="same", activation="relu")(inputs))
        return Model(inputs, Dense(2)(Flatten()(h)))

    def sequential():
        return Sequential([Input((8, 8, 1)), Conv2D(4, 3, padding="same", activation="relu"),
                           Conv2D(1, 3, padding="same"), Flatten(), Dense(2)])

    def keras_model():
        inputs = tf.keras.Input((8, 8, 1))
        return tf.keras.Model(inputs, tf.keras.layers.Dense(2)(tf.keras.layers.Flatten()(inputs)))

    def wrong_input():
        inputs = Input((8, 8))
        return Model(inputs, Dense(2)(Flatten()(inputs)))

    assert_wrong(ex.residual_model(no_add), "residual connection")
    assert_wrong(ex.residual_model(sequential), "Functional")
    assert_wrong(ex.residual_model(keras_model), "Functional")
    assert_wrong(ex.residual_model(wrong_input), "(8, 8, 1)")
    assert_wrong(ex.residual_model(_residual(relu=False)), "activation='relu'")
    assert_wrong(ex.residual_model(_residual(add_input=False, second_filters=4)), "sizes differ")
    assert_wrong(ex.residual_model(_residual(units=3)), "sizes differ")
    assert_wrong(ex.residual_model(_residual(padding="valid")), "raised ValueError")
    assert_wrong(ex.residual_model(lambda: 1 / 0), "ZeroDivisionError")


def test_residual_model_checker_compares_numbers_not_only_structure():
    def doubled():  # the same layers and parameter count, but the Add joins h with itself
        inputs = Input((8, 8, 1))
        h = Conv2D(4, 3, padding="same", activation="relu")(inputs)
        h = Conv2D(1, 3, padding="same")(h)
        h = Add()([h, h])
        return Model(inputs, Dense(2)(Flatten()(h)))

    assert_wrong(ex.residual_model(doubled), "Same layers, different numbers")


def test_image_input_shape_checker():
    assert ex.image_input_shape(None).status == TODO
    for answer in [(32, 64, 3), [32, 64, 3], np.array([32, 64, 3])]:
        assert ex.image_input_shape(answer).status == CORRECT
    assert_wrong(ex.image_input_shape((64, 32, 3)), "width and height swapped")
    assert_wrong(ex.image_input_shape((None, 32, 64, 3)), "batch axis")
    assert_wrong(ex.image_input_shape((3, 32, 64)), "channels_last")
    assert_wrong(ex.image_input_shape((32, 64)), "3 channels")
    assert_wrong(ex.image_input_shape((32, 64, 1)), "3 channels")
    assert_wrong(ex.image_input_shape((6144,)), "Flattened")
    assert_wrong(ex.image_input_shape((64, 32)), "(height, width, channels)")


def test_checkers_leave_automatic_names_alone():
    ex.output_shape((None, 16, 16, 12))
    ex.param_count(116)
    ex.residual_model(lambda: None)
    assert Dense(2).name == "dense"
    assert MaxPooling2D().name == "max_pooling2d" and Concatenate().name == "concatenate"


def test_explorer_summary_kept_per_setting_is_the_models_own():
    from kbook.summary import summary_text

    explorer = ModelExplorer(blocks=1, kernel_size=3, padding="same", residual=False)
    for control, value in [("blocks", 3), ("residual", True), ("blocks", 1), ("residual", False), ("blocks", 3)]:
        getattr(explorer, control).value = value
        assert explorer.model_summary() == summary_text(explorer.model)
        assert "blocks=" + str(explorer.blocks.value) in explorer.call_text()
    assert len(explorer._summaries) == 4       # (1, no), (3, no), (3, yes), (1, yes): one table per setting
