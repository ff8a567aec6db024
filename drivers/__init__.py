"""Hardware drivers: one module per device, each a small interface with real and simulated backends.

Drivers know nothing of the kiosk's domain (no imports from ``kiosk``): they raise typed
errors that carry a bilingual message, and the services decide what the errors mean.
"""
