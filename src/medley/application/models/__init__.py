"""Data models shared by every layer."""
