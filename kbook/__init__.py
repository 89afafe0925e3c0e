"""kbook: the tf.keras layers rebuilt from scratch in NumPy, checked against tf.keras.

``import kbook`` never imports TensorFlow; only :mod:`kbook.check` does, when a
check runs.  Importing kbook first also keeps a later ``import tensorflow`` quiet
(TensorFlow reads these two variables once, when it is first imported), unless they are
already set.  ``TF_ENABLE_ONEDNN_OPTS=0`` also turns TensorFlow's oneDNN kernels off, so
TensorFlow's float32 rounding and speed are those of its plain kernels in such a session
(the README says so; the benchmarks set it back on, as users get TensorFlow).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from kbook import activations, initializers, layers, models  # noqa: E402
from kbook.initializers import set_seed  # noqa: E402
from kbook.plot_model import plot_model  # noqa: E402

__version__ = "0.1.0"
__all__ = ["activations", "initializers", "layers", "models", "plot_model", "set_seed"]
