"""The int8 TFLite ops tinyee's firmware kernel library implements.

An exported segment may use these and nothing else; `tinyee export` refuses any other op
and names it, so a model never reaches the firmware compiler with an op it cannot build.
"""

FIRMWARE_INT8_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED", "HARD_SWISH", "LOGISTIC", "MEAN", "MUL", "PAD", "RESHAPE", "RSQRT", "SOFTMAX",
    "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "TRANSPOSE",
})
