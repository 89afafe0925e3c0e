"""The fast engines behind kbook's layers and activations: one module per chapter that needs one.

A layer module (``kbook/layers/conv2d.py``) reads like its Keras 3 counterpart: the constructor
validates and stores, ``build`` makes the weights, ``call`` and ``backward`` say what is computed.
How it is computed fast is here, and each module's docstring says why it is done that way (what
the chapters' optional "Under the hood" sections show):

* :mod:`kbook.ops.blas`: every matrix product on one BLAS library, SciPy's (chapters 1 and 3).
* :mod:`kbook.ops.activations`: in-place kernels run block by block on every core (chapter 2).
* :mod:`kbook.ops.conv2d`: convolution as BLAS matrix products on cache-sized blocks (chapter 3).
* :mod:`kbook.ops.pooling`: windows reduced in two 1-D passes, in cache-sized chunks, on every
  core (chapter 4).

These functions check no arguments: the layers do.
"""
