"""Reference receiving server ("pusat"): packet intake, decrypt + verify, status pipeline, progress."""
