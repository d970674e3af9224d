"""Per-image train and eval transforms (OFA / torchvision semantics) and ImageNet normalization.

Every random draw is stateless: a transform receives a `[2]` int seed, so an image's augmentation depends
only on that seed, never on thread scheduling.
"""
from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EVAL_CROP_FRACTION = 0.875

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as torchvision's rgb_to_grayscale


def normalize(image: tf.Tensor, max_value: float = 255.0) -> tf.Tensor:
    """Image in [0, max_value] → `(x / max_value − mean) / std` with the ImageNet constants."""
    scale = [1.0 / (max_value * s) for s in IMAGENET_STD]
    shift = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    return tf.cast(image, tf.float32) * tf.constant(scale) + tf.constant(shift)


def denormalize(image: tf.Tensor) -> tf.Tensor:
    """Inverse of `normalize`: back to the [0, 255] float range."""
    return (image * tf.constant(IMAGENET_STD) + tf.constant(IMAGENET_MEAN)) * 255.0


def _resize(image: tf.Tensor, height, width) -> tf.Tensor:
    """Bilinear resize as PIL: antialiased (triangle filter) when shrinking, plain half-pixel when enlarging."""
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    size = tf.stack([height, width])
    shrinking = tf.logical_or(shape[0] > height, shape[1] > width)
    return tf.cond(
        shrinking,
        lambda: tf.image.resize(image, size, method="bilinear", antialias=True),
        lambda: tf.image.resize(image, size, method="bilinear", antialias=False),
    )


def eval_transform(image: tf.Tensor, size: int, crop_fraction: float = EVAL_CROP_FRACTION) -> tf.Tensor:
    """Resize the shorter side to `ceil(size / crop_fraction)` (bilinear) → center crop `size` → normalize.

    Matches torchvision `Resize(int)` (long side truncated) + `CenterCrop` (offsets rounded half to even).
    """
    resize_to = math.ceil(size / crop_fraction)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    short = tf.minimum(h, w)
    long = tf.maximum(h, w)
    new_long = tf.cast(resize_to * long // short, tf.int32)  # int(size * long / short)
    new_h = tf.where(h <= w, resize_to, new_long)
    new_w = tf.where(h <= w, new_long, resize_to)
    image = tf.cond(
        tf.logical_and(tf.equal(new_h, h), tf.equal(new_w, w)),
        lambda: tf.cast(image, tf.float32),
        lambda: _resize(image, new_h, new_w),
    )
    top = tf.cast(tf.round(tf.cast(new_h - size, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_w - size, tf.float32) / 2.0), tf.int32)
    image = image[top : top + size, left : left + size, :]
    return normalize(tf.ensure_shape(image, [size, size, 3]))


def random_resized_crop_box(shape, seed, scale, ratio, attempts: int = 10):
    """torchvision `RandomResizedCrop.get_params`: (top, left, height, width) of the crop box.

    Draws `attempts` candidates at once and keeps the first that fits; otherwise the central crop clamped
    to `ratio`.
    """
    height, width = shape[0], shape[1]
    area = tf.cast(height * width, tf.float32)
    s_area, s_ratio, s_pos = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    target_area = area * tf.random.stateless_uniform([attempts], s_area, scale[0], scale[1])
    log_ratio = tf.random.stateless_uniform([attempts], s_ratio, math.log(ratio[0]), math.log(ratio[1]))
    aspect = tf.exp(log_ratio)
    ws = tf.cast(tf.round(tf.sqrt(target_area * aspect)), tf.int32)
    hs = tf.cast(tf.round(tf.sqrt(target_area / aspect)), tf.int32)
    ok = (ws > 0) & (ws <= width) & (hs > 0) & (hs <= height)
    first = tf.argmax(tf.cast(ok, tf.int32), output_type=tf.int32)

    in_ratio = tf.cast(width, tf.float32) / tf.cast(height, tf.float32)
    fb_w = tf.where(
        in_ratio < ratio[0],
        width,
        tf.where(in_ratio > ratio[1], tf.cast(tf.round(tf.cast(height, tf.float32) * ratio[1]), tf.int32), width),
    )
    fb_h = tf.where(
        in_ratio < ratio[0], tf.cast(tf.round(tf.cast(width, tf.float32) / ratio[0]), tf.int32), height
    )
    found = tf.reduce_any(ok)
    h = tf.where(found, hs[first], fb_h)
    w = tf.where(found, ws[first], fb_w)
    u = tf.random.stateless_uniform([2], s_pos)
    top_rand = tf.cast(u[0] * tf.cast(height - h + 1, tf.float32), tf.int32)
    left_rand = tf.cast(u[1] * tf.cast(width - w + 1, tf.float32), tf.int32)
    top = tf.where(found, tf.minimum(top_rand, height - h), (height - h) // 2)
    left = tf.where(found, tf.minimum(left_rand, width - w), (width - w) // 2)
    return top, left, h, w


def _color_jitter(image: tf.Tensor, seed, brightness: float, saturation: float) -> tf.Tensor:
    """torchvision `ColorJitter(brightness, saturation)` on a [0, 1] image: both factors, random order."""
    factors = tf.random.stateless_uniform([3], seed)
    b = 1.0 - brightness + 2.0 * brightness * factors[0]
    s = 1.0 - saturation + 2.0 * saturation * factors[1]

    def adjust_brightness(x):
        return tf.clip_by_value(x * b, 0.0, 1.0)

    def adjust_saturation(x):
        gray = tf.reduce_sum(x * tf.constant(_LUMA), axis=-1, keepdims=True)
        return tf.clip_by_value(gray + s * (x - gray), 0.0, 1.0)

    return tf.cond(
        factors[2] < 0.5,
        lambda: adjust_saturation(adjust_brightness(image)),
        lambda: adjust_brightness(adjust_saturation(image)),
    )


def _random_flip(image: tf.Tensor, seed) -> tf.Tensor:
    flip = tf.random.stateless_uniform([], seed) < 0.5
    return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)


@dataclasses.dataclass(frozen=True)
class ImageNetPolicy:
    """OFA's ImageNet training augmentation (the reference's `ofa/imagenet_classification/data_providers/imagenet.py`).

    RandomResizedCrop(size, scale, ratio, bilinear) → horizontal flip → ColorJitter(brightness, saturation)
    → [0, 1] → ImageNet normalization. Evaluation: shorter side to `ceil(size / 0.875)` → center crop.
    """

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    brightness: float = 32 / 255
    saturation: float = 0.5
    flip: bool = True
    eval_crop_fraction: float = EVAL_CROP_FRACTION

    def __post_init__(self):
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"Invalid `scale`: expected 0 < min <= max <= 1. Received scale={self.scale}.")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"Invalid `ratio`: expected 0 < min <= max. Received ratio={self.ratio}.")

    def train(self, image: tf.Tensor, size, seed) -> tf.Tensor:
        s_crop, s_flip, s_color = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        top, left, h, w = random_resized_crop_box(tf.shape(image), s_crop, self.scale, self.ratio)
        crop = image[top : top + h, left : left + w, :]
        out = _resize(crop, size, size)
        if self.flip:
            out = _random_flip(out, s_flip)
        if self.brightness or self.saturation:
            out = _color_jitter(out * (1.0 / 255.0), s_color, self.brightness, self.saturation)
            return normalize(out, max_value=1.0)
        return normalize(out)

    def eval(self, image: tf.Tensor, size: int) -> tf.Tensor:
        return eval_transform(image, size, self.eval_crop_fraction)


@dataclasses.dataclass(frozen=True)
class CifarPolicy:
    """Small-image augmentation: resize to the batch size → zero-pad → random crop → horizontal flip.

    `padding` is in pixels at 32×32 and scales with the resolution (4 → 16 at 128). Evaluation resizes the
    whole image to `size` (no crop).
    """

    padding: int = 4
    flip: bool = True

    def __post_init__(self):
        if self.padding < 0:
            raise ValueError(f"Invalid `padding`: expected >= 0. Received padding={self.padding}.")

    def train(self, image: tf.Tensor, size, seed) -> tf.Tensor:
        s_crop, s_flip = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        shape = tf.shape(image)
        image = tf.cond(
            tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size)),
            lambda: tf.cast(image, tf.float32),
            lambda: _resize(image, size, size),
        )
        pad = tf.cast(tf.round(self.padding * tf.cast(size, tf.float32) / 32.0), tf.int32)
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        offset = tf.random.stateless_uniform([2], s_crop, 0, 2 * pad + 1, dtype=tf.int32)
        image = image[offset[0] : offset[0] + size, offset[1] : offset[1] + size, :]
        if self.flip:
            image = _random_flip(image, s_flip)
        return normalize(image)

    def eval(self, image: tf.Tensor, size: int) -> tf.Tensor:
        return eval_transform(image, size, crop_fraction=1.0)


POLICIES = {
    "imagenet": ImageNetPolicy(),
    "cifar": CifarPolicy(),
    # Digits and characters are not mirror-symmetric (a flipped 2 is not a 2): shifts only.
    "digits": CifarPolicy(flip=False),
}


def get_policy(policy: str | ImageNetPolicy | CifarPolicy) -> ImageNetPolicy | CifarPolicy:
    """A policy instance from its name (`"imagenet"`, `"cifar"`, `"digits"`) or the instance itself."""
    if isinstance(policy, (ImageNetPolicy, CifarPolicy)):
        return policy
    if policy not in POLICIES:
        raise ValueError(
            f"Unknown augmentation policy {policy!r}; expected one of {sorted(POLICIES)} "
            "or an ImageNetPolicy/CifarPolicy instance."
        )
    return POLICIES[policy]
