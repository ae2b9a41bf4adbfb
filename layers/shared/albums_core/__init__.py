"""Shared layer of the albums service: domain, application services and adapters."""
