"""Public names of a package imported on first use (PEP 562 module `__getattr__`), so importing it stays cheap."""
import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str]):
    """`(__getattr__, __dir__)` for `package` whose names `exports` maps to the (possibly relative) modules that
    define them; a name is imported on first use and then kept in the package's namespace."""

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
