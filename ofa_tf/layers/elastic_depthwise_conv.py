import keras
import tensorflow as tf


def _centre(size, k):
    start = size // 2 - k // 2
    return start, start + k


def depthwise_conv(inputs, kernel, strides=1):
    """Depthwise conv of a square odd [k, k, C, 1] kernel (k may be a tensor) with symmetric padding k // 2.

    Stride 1 is TensorFlow's SAME padding (no pad op, and no slice in the gradient); strided convs pad
    explicitly, as SAME would pad asymmetrically.
    """
    if strides == 1:
        return tf.nn.depthwise_conv2d(inputs, kernel, [1, 1, 1, 1], "SAME")
    p = tf.shape(kernel)[0] // 2
    padded = tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]])
    return tf.nn.depthwise_conv2d(padded, kernel, [1, strides, strides, 1], "VALID")


@keras.saving.register_keras_serializable(package="ofa_tf")
class ElasticDepthwiseConv(keras.layers.Layer):
    """Depthwise conv with elastic kernel size and width, OFA's kernel transformation.

    One max-size kernel is kept. A smaller kernel is the centre crop of the next larger *active*
    kernel passed through a learned matrix shared by all channels (`7to5_matrix` 25x25, `5to3_matrix`
    9x9, initialised to identity), chained from the largest size down. Padding is symmetric k//2.

    Args:
        max_channels: largest number of channels.
        kernel_sizes: the elastic kernel sizes (odd ints).
        strides: spatial stride.
    """

    def __init__(self, max_channels, kernel_sizes=(3, 5, 7), strides=1, **kwargs):
        super().__init__(**kwargs)
        self.max_channels = int(max_channels)
        self.kernel_sizes = tuple(sorted(int(k) for k in kernel_sizes))
        bad = [k for k in self.kernel_sizes if k < 1 or k % 2 == 0]
        if bad:
            raise ValueError(f"Kernel sizes must be odd and positive. Received kernel_sizes={list(kernel_sizes)}.")
        self.strides = int(strides)
        self.max_kernel_size = self.kernel_sizes[-1]

    def build(self, input_shape=None):
        k = self.max_kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, self.max_channels, 1),
            initializer=keras.initializers.RandomNormal(stddev=(2.0 / (k * k * self.max_channels)) ** 0.5),
            name="kernel",
        )
        self.transform_matrices = {}
        for big, small in zip(self.kernel_sizes[:0:-1], self.kernel_sizes[-2::-1]):
            name = f"{big}to{small}_matrix"
            self.transform_matrices[name] = self.add_weight(
                shape=(small * small, small * small), initializer="identity", name=name
            )

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # Keras 3 hides dict attributes from `tf.train.Checkpoint`; name the matrices so checkpoints cover them.
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children.update(self.transform_matrices)
        return children

    def active_kernel(self, kernel_size, channels=None):
        """The [k, k, C, 1] kernel for a static `kernel_size`, transforms applied."""
        if kernel_size not in self.kernel_sizes:
            raise ValueError(f"Invalid kernel size {kernel_size}: expected one of {list(self.kernel_sizes)}.")
        return self._kernels(channels, smallest=kernel_size)[kernel_size]

    def _kernels(self, channels=None, smallest=None):
        """{k: [k, k, C, 1] kernel} for every size down to `smallest`, each transformed from the next larger."""
        kernel = self.kernel if channels is None else self.kernel[:, :, :channels, :]
        kernels = {self.max_kernel_size: kernel}
        for big, small in zip(self.kernel_sizes[:0:-1], self.kernel_sizes[-2::-1]):
            if smallest is not None and small < smallest:
                break
            kernels[small] = self._transform(kernels[big], big, small)
        return kernels

    def _transform(self, kernel, size, small):
        """`size`x`size` kernel → its centre `small`x`small` crop through the learned matrix."""
        start, end = _centre(size, small)
        crop = kernel[start:end, start:end]
        c = tf.shape(crop)[2]
        flat = tf.reshape(crop, [small * small, c])
        matrix = self.transform_matrices[f"{size}to{small}_matrix"]
        return tf.reshape(tf.matmul(matrix, flat), [small, small, c, 1])

    def call(self, inputs, kernel_size=None):
        channels = tf.shape(inputs)[-1]
        if kernel_size is None or len(self.kernel_sizes) == 1:
            return depthwise_conv(inputs, self.active_kernel(self.max_kernel_size, channels), self.strides)
        # No control flow: every candidate kernel (small matmuls) is zero-padded to the max size and
        # stacked; the active one is gathered and cropped to its size, so one depthwise conv runs.
        size = self.max_kernel_size
        kernels = self._kernels(channels)
        padded = [tf.pad(w, [[(size - k) // 2] * 2, [(size - k) // 2] * 2, [0, 0], [0, 0]]) for k, w in kernels.items()]
        kernel_size = tf.convert_to_tensor(kernel_size, tf.int32)
        index = tf.argmax(tf.cast(tf.equal(list(kernels), kernel_size), tf.int32), output_type=tf.int32)
        start = (size - kernel_size) // 2
        active = tf.gather(tf.stack(padded), index)[start : start + kernel_size, start : start + kernel_size]
        return depthwise_conv(inputs, active, self.strides)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape

        def out(n):
            return None if n is None else (n - 1) // self.strides + 1

        return (b, out(h), out(w), c)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"max_channels": self.max_channels, "kernel_sizes": list(self.kernel_sizes), "strides": self.strides}
        )
        return config
