"""Simulators that ship in the product: training mode, demos and tests run the real code paths on them."""
