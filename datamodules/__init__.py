"""LightningDataModules. Each says what it holds (`info`) so the model sizes itself from it."""
