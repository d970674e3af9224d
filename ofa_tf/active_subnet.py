"""The reference's active-subnet API (`set_active_subnet` & co. in `ofa/imagenet_classification/elastic_nn/networks/`),
shared by every supernet family: a family provides `search_space`, `_assign(config)` and `get_active_config()`."""
from __future__ import annotations


class ActiveSubnet:
    """Mixin for a supernet whose active subnet is a config of `search_space.config_type`."""

    def set_active_config(self, config) -> None:
        """Activates `config` (a config of the search space, or its dict) after validating it."""
        if isinstance(config, dict):
            config = self.search_space.config_type.from_dict(config)
        self.search_space.validate(config)
        self._assign(config)

    def set_max_net(self) -> None:
        self._assign(self.search_space.max_config(self.active_resolution))

    def sample_active_subnet(self, rng=None, with_resolution=False) -> dict:
        """Activates a random subnet (`search_space.sample`) and returns its config."""
        config = self.search_space.sample(rng, with_resolution)
        self._assign(config)
        return config.to_dict()

    def get_active_subnet_config(self) -> dict:
        """JSON-serializable config of the active subnet."""
        return self.get_active_config().to_dict()
