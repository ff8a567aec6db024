"""Biometric quality gates: the face photo, the fingerprint image and the signature.

Each gate takes what a device or the screen delivered and answers accepted or not, a quality
score and the reasons as bilingual messages that tell the operator what to do next. The gates
never talk to devices and never store anything: the enrollment service decides what to keep.
"""
