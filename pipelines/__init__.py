"""TFX pipeline running a DimGrow search, retrain and push."""
