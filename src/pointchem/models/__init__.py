"""Model families: one folder each, all implementing EnergyModel (models.base)."""
