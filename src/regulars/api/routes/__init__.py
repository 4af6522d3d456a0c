"""The JSON routes, one module per area; each route calls the same ``reports`` function as its page."""
