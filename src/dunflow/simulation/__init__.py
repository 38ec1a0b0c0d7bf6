"""Simulation: the real runner, send path and ledger on a throwaway copy of the database and a simulated clock."""
