"""Known phones: SoC and per-core max frequency, used when sysfs cannot be read."""

from __future__ import annotations

import dataclasses
import fnmatch


@dataclasses.dataclass(frozen=True)
class SocLayout:
    """A SoC and the ``cpuinfo_max_freq`` (kHz) of each core, cpu0 first."""

    name: str
    core_max_freq_khz: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class DeviceProfile:
    """A phone model family matched by ``ro.product.model`` glob patterns (case-sensitive)."""

    name: str
    model_patterns: tuple[str, ...]
    soc: SocLayout

    def matches(self, product_model: str) -> bool:
        return any(fnmatch.fnmatchcase(product_model, pattern) for pattern in self.model_patterns)


def _cores(*clusters: tuple[int, int]) -> tuple[int, ...]:
    """Expand (count, kHz) clusters, listed from cpu0 upwards."""
    return tuple(freq for count, freq in clusters for _ in range(count))


EXYNOS_8890 = SocLayout("Exynos 8890", _cores((4, 1586000), (4, 2600000)))
EXYNOS_8895 = SocLayout("Exynos 8895", _cores((4, 1690000), (4, 2314000)))
EXYNOS_9825 = SocLayout("Exynos 9825", _cores((4, 1950000), (2, 2400000), (2, 2730000)))
SNAPDRAGON_820 = SocLayout("Snapdragon 820", _cores((2, 1593600), (2, 2150400)))
SNAPDRAGON_821 = SocLayout("Snapdragon 821", _cores((2, 1593600), (2, 2150400)))
SNAPDRAGON_835 = SocLayout("Snapdragon 835", _cores((4, 1900800), (4, 2457600)))
SNAPDRAGON_855 = SocLayout("Snapdragon 855", _cores((4, 1785600), (3, 2419200), (1, 2841600)))

# Order matters: the first matching profile wins, so exact names precede globs.
DEVICE_PROFILES: tuple[DeviceProfile, ...] = (
    DeviceProfile("Samsung Galaxy Note8", ("SM-N950F*", "SM-N950N*"), EXYNOS_8895),
    DeviceProfile("Samsung Galaxy Note8", ("SM-N950U*", "SM-N950W*", "SM-N9500*", "SC-01K", "SCV37"), SNAPDRAGON_835),
    DeviceProfile("Google Pixel", ("Pixel", "Pixel XL"), SNAPDRAGON_821),
    DeviceProfile("Google Pixel 2", ("Pixel 2", "Pixel 2 XL"), SNAPDRAGON_835),
    DeviceProfile("Samsung Galaxy Note10", ("SM-N970F*", "SM-N971N*"), EXYNOS_9825),
    DeviceProfile("Samsung Galaxy Note10", ("SM-N970U*", "SM-N970W*", "SM-N9700*", "SM-N970*"), SNAPDRAGON_855),
    DeviceProfile("Samsung Galaxy S7 edge", ("SM-G935F*", "SM-G935S*", "SM-G935K*", "SM-G935L*"), EXYNOS_8890),
    DeviceProfile("Samsung Galaxy S7 edge", ("SM-G935*", "SC-02H", "SCV33"), SNAPDRAGON_820),
    DeviceProfile("LG G8 ThinQ", ("LM-G820*", "LMG820*"), SNAPDRAGON_855),
)


def match_profile(product_model: str) -> DeviceProfile | None:
    """Return the first profile whose patterns match ``ro.product.model``, or None."""
    model = product_model.strip()
    return next((profile for profile in DEVICE_PROFILES if profile.matches(model)), None)
