"""Who is calling: API bearer tokens, dashboard users and their signed sessions."""
