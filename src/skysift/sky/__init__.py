"""Radio sky simulator: morphologies, beam, correlated noise, artefacts, exact truth."""
