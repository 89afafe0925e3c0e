"""kbook's models: ``Model`` (subclassed or Functional) and ``Sequential``, as in ``keras.models``."""
from kbook.models.functional import Functional
from kbook.models.model import Model
from kbook.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]
