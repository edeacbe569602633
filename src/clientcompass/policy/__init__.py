"""The privacy policy the app serves at /privacy, from a versioned source in this package."""
