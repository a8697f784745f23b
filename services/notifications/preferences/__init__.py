"""People's choices: channels per category, quiet hours, the daily digest and their contact addresses."""
