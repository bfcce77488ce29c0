"""The pluggy host: hook specifications, the plugin manager, the payer-plugin base, pricing."""
