"""The composition root: builds each adapter once per container and hands it to the services.

Handlers ask this package for a wired service; no service constructs an adapter itself.
"""
