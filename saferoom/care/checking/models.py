"""Drug checks and drug alerts across a network."""
