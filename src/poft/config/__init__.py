"""The experiment config: its TOML schema (`schema`), the config itself (`experiment`)
and who takes part with which data (`population`). Below the drivers: every driver
and study reads its setup from here."""
