"""The channels behind one adapter interface (in-app, e-mail, SMS, webhooks) and each county's settings."""
