"""Elastic Keras layers: every op slices the first N channels of its max-size weights at run time."""
from ofa_tf.layers.elastic_batch_norm import ElasticBatchNorm as ElasticBatchNorm
from ofa_tf.layers.elastic_depthwise_conv import ElasticDepthwiseConv as ElasticDepthwiseConv
from ofa_tf.layers.elastic_mbconv import ElasticMBConv as ElasticMBConv
from ofa_tf.layers.elastic_pointwise_conv import ElasticPointwiseConv as ElasticPointwiseConv
from ofa_tf.layers.elastic_se import ElasticSE as ElasticSE
