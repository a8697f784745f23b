"""notifications: templates, channels, preferences and delivery (not built yet)."""
