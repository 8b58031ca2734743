"""Real servers the tests start beside our emulators: S3 (moto) and fronts that change it."""
