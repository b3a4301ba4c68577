"""A tiny shop: the code the demo measures."""
