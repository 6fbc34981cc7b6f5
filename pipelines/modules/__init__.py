"""TFX module files (each directory is packaged as one user-code wheel)."""
