"""Onboarding stores that ship with the provider (see :mod:`avepoint_provider.store` for the interface)."""
