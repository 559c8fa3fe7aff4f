"""The seven services by name, and how to build each."""

from __future__ import annotations

import importlib

from shared.runtime import ServiceFactory

SERVICE_NAMES: tuple[str, ...] = (
    "ingress-gmail",
    "ingress-whatsapp",
    "ingress-web",
    "identity",
    "agent",
    "dispatcher",
    "metrics",
)


def service_factory(name: str) -> ServiceFactory:
    if name not in SERVICE_NAMES:
        raise LookupError(f"unknown service {name!r}; choose one of {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"services.{name.replace('-', '_')}.service")
    return module.build  # type: ignore[no-any-return]
