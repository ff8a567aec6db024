"""ektp-kiosk: the domain and services of an offline-first e-KTP enrollment kiosk.

Nothing in this package imports Flask: the web layer (``ui``) talks to the
facade built by :mod:`kiosk.app`, never to the store or drivers directly.
"""

__version__ = "0.1.0"
