"""Partner formats: one package per partner, each implementing the normaliser port."""
