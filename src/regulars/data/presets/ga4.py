"""Placeholder until the preset lands."""
