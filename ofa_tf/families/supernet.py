"""What every supernet family shares: the reference's active-subnet API (`set_active_subnet` & co. in
`ofa/imagenet_classification/elastic_nn/networks/`; a family provides `search_space`, `_assign(config)` and
`get_active_config()`) and the Keras config and checkpoint plumbing (`OFASupernet`)."""
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


class OFASupernet(ActiveSubnet):
    """Mixin of every supernet (before `keras.Model` in the bases): `get_config` from the common arguments plus the
    family's `_architecture_config()` (its width and search-space arguments), `from_config`, and checkpoints that
    cover the `blocks` list. Not registered with Keras (the families' classes are)."""

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # Keras 3 hides list attributes from `tf.train.Checkpoint`; name the blocks so checkpoints cover them.
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children.update({block.name: block for block in self.blocks})
        return children

    def _architecture_config(self) -> dict:
        """The family's constructor arguments besides name, n_classes, dropout_rate, resolutions, bn_* and net_id."""
        raise NotImplementedError

    def get_config(self):
        return {
            "name": self.name,
            "n_classes": self.n_classes,
            **self._architecture_config(),
            "dropout_rate": self.dropout_rate,
            "resolutions": list(self.search_space.resolutions),
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "net_id": self.net_id,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
