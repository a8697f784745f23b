"""insights: province and city read models built only from events."""
