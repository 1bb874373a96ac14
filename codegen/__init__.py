"""Turns the YAML registry into dxapi's generated bindings (``python -m codegen``)."""
